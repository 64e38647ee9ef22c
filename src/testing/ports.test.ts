import { describe, expect, it } from "vitest";
import { choosablePorts, freePort, freePortSync, portFree } from "./ports.js";

describe("ports chosen for servers started as other processes", () => {
  it("come from below the kernel's ephemeral range, where no listen(0) or outgoing connection can take them first", async () => {
    const [low, high] = choosablePorts();
    const ports = [...(await Promise.all(Array.from({ length: 8 }, () => freePort()))), freePortSync(), await freePort({ udpToo: true })];
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(low);
      expect(port).toBeLessThan(high);
    }
    if (process.platform === "linux") expect(high).toBeLessThanOrEqual(32_768);
  });

  it("are free: the caller can bind what it was given", async () => {
    const port = await freePort();
    expect(await portFree(port)).toBe(true);
  });
});
