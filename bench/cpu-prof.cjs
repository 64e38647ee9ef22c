// Preloaded with --require (NODE_OPTIONS cannot carry --cpu-prof): profiles the whole process and
// writes a .cpuprofile to CPU_PROF_DIR when it exits (the inspector answers synchronously in-thread).
const inspector = require("node:inspector");
const { writeFileSync } = require("node:fs");
const { join } = require("node:path");
const session = new inspector.Session();
session.connect();
session.post("Profiler.enable");
session.post("Profiler.start");
process.on("exit", () => {
  session.post("Profiler.stop", (error, result) => {
    if (!error) writeFileSync(join(process.env.CPU_PROF_DIR ?? ".", `vault-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
  });
});
