import { render } from "preact";
import { LocationProvider, useLocation } from "preact-iso";
import { useEffect } from "preact/hooks";
import { whenSignedOut } from "./api";
import { LiveRegion } from "./components/live";
import { Layout } from "./layout";
import { LoginPage } from "./pages/login";
import { session, useSession } from "./session";
import "./styles.css";

whenSignedOut(() => session.set(null));

function App() {
  const s = useSession();
  const { path, route } = useLocation();
  useEffect(() => {
    if (!s.checked) void s.recover();
  }, []);
  useEffect(() => {
    if (!s.checked) return;
    if (!s.value && path !== "/ui/login") route("/ui/login", true);
    if (s.value && (path === "/ui/login" || path === "/ui/" || path === "/ui")) route("/ui/secrets", true);
  }, [s.checked, s.value, path]);
  if (!s.checked) return <p class="loading">Loading…</p>;
  if (s.value) return <Layout path={path} />;
  // The sign-in page only at its own address: rendered at /ui/ it showed a frame before the effect
  // above moved the address, so the page and its URL disagreed for a moment.
  return path === "/ui/login" ? <LoginPage /> : <p class="loading">Loading…</p>;
}

render(
  <LocationProvider>
    <App />
    <LiveRegion />
  </LocationProvider>,
  document.getElementById("app")!,
);
