import { useEffect, useState } from "preact/hooks";

let listener: ((text: string) => void) | null = null;

/** Says `text` in the polite live region (async results: saved, revealed, verified…). */
export function announce(text: string): void {
  listener?.(text);
}

export function LiveRegion() {
  const [text, setText] = useState("");
  useEffect(() => {
    listener = (next) => {
      // Clearing first makes a repeated message be announced again.
      setText("");
      setTimeout(() => setText(next), 30);
    };
    return () => {
      listener = null;
    };
  }, []);
  return (
    <div class="live" role="status" aria-live="polite" data-testid="live">
      {text}
    </div>
  );
}
