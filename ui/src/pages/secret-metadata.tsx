import { useState } from "preact/hooks";
import { patch, secretUrl } from "../api";
import { Dialog } from "../components/dialog";
import { ErrorBox } from "../components/error";
import { announce } from "../components/live";

/** `PATCH …/metadata`: description, tags and owner without a new version (other metadata kept). */
export function MetadataEditor({ path, metadata, onClose, onSaved }: { path: string; metadata: any; onClose: () => void; onSaved: () => void }) {
  const [description, setDescription] = useState(metadata?.description ?? "");
  const [tags, setTags] = useState((metadata?.tags ?? []).join(", "));
  const [owner, setOwner] = useState(metadata?.owner ?? "");
  const [error, setError] = useState<unknown>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    try {
      const next = { ...(metadata ?? {}), description: description || undefined, owner: owner || undefined, tags: tags.split(",").map((t: string) => t.trim()).filter(Boolean) };
      await patch(secretUrl(path, "/metadata"), { metadata: next });
      announce(`Metadata of ${path} saved`);
      onSaved();
    } catch (caught) {
      setError(caught);
    }
  };
  return (
    <Dialog title={`Metadata of ${path}`} onClose={onClose}>
      <form onSubmit={submit}>
        <label>
          Description <input value={description} onInput={(e) => setDescription((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          Tags (comma separated) <input value={tags} onInput={(e) => setTags((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          Owner <input value={owner} onInput={(e) => setOwner((e.target as HTMLInputElement).value)} />
        </label>
        <ErrorBox error={error} />
        <div class="actions">
          <button type="submit">Save</button>
          <button type="button" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}
