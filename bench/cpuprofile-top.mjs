// node bench/cpuprofile-top.mjs <file.cpuprofile> [n]: the functions with the most self time, and
// our own functions (dist/) with the most inclusive time, as shares of the samples.
import { readFileSync } from "node:fs";

const [file, count = "30"] = process.argv.slice(2);
const profile = JSON.parse(readFileSync(file, "utf8"));
const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
const label = ({ callFrame: f }) => `${f.functionName || "(anonymous)"} ${f.url ? `${f.url.split("/").slice(-2).join("/")}:${f.lineNumber + 1}` : ""}`.trim();
const selfTime = new Map();
const ours = new Map();
const samples = new Map();
for (const id of profile.samples) samples.set(id, (samples.get(id) ?? 0) + 1);
let total = 0;
for (const [id, n] of samples) {
  total += n;
  const leaf = label(nodes.get(id));
  selfTime.set(leaf, (selfTime.get(leaf) ?? 0) + n);
  const seen = new Set();
  for (let at = id; at !== undefined; at = parent.get(at)) {
    const node = nodes.get(at);
    const name = label(node);
    if (node.callFrame.url.includes("/dist/") && !seen.has(name)) {
      seen.add(name);
      ours.set(name, (ours.get(name) ?? 0) + n);
    }
  }
}
const top = (map) => [...map].sort((a, b) => b[1] - a[1]).slice(0, Number(count));
const pct = (n) => `${((100 * n) / total).toFixed(1).padStart(5)} %`;
console.log(`${total} samples\n\nself time:`);
for (const [name, n] of top(selfTime)) console.log(`${pct(n)}  ${name}`);
console.log("\nour code, inclusive (async continuations count where they resume):");
for (const [name, n] of top(ours)) console.log(`${pct(n)}  ${name}`);
