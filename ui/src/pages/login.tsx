import { useState } from "preact/hooks";
import { ErrorBox } from "../components/error";
import { session } from "../session";

/** One field, "Token" (a password input), and "Sign in" (spec/console.md §2). */
export function LoginPage() {
  const [token, setToken] = useState("");
  // A session recovery that gave up on a busy or unreachable vault says so here.
  const [error, setError] = useState<unknown>(session.recoverError);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await session.signIn(token);
      setToken("");
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" class="login">
      <h1>Sign in to ScaiVault</h1>
      <form onSubmit={submit}>
        <label for="token">Token</label>
        <input id="token" name="token" type="password" autocomplete="off" value={token} onInput={(e) => setToken((e.target as HTMLInputElement).value)} required />
        <button type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
      <ErrorBox error={error} />
      <p class="hint">The token stays on the server: the browser keeps only an HttpOnly session cookie.</p>
    </main>
  );
}
