import type { ScaiVaultClient } from "@scailabs/scaivault";
import type { Args } from "../args.js";
import type { Out } from "../output.js";

export interface Ctx {
  args: Args;
  out: Out;
  /** Built on first use, so `config` and `--help` need no token. */
  client(): ScaiVaultClient;
}
