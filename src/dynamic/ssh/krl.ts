import { str, u32, u64 } from "./wire.js";

const KRL_MAGIC = 0x5353484b524c0a00n; // "SSHKRL\n\0"
const KRL_SECTION_CERTIFICATES = 1;
const KRL_SECTION_CERT_SERIAL_LIST = 0x20;

/** An OpenSSH KRL (PROTOCOL.krl) revoking certificate serials of one CA; unsigned, as `ssh-keygen -k` makes them. */
export function buildKrl(caPublicBlob: Buffer, serials: bigint[], version: bigint, now = Date.now()): Buffer {
  const sorted = [...new Set(serials)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const header = Buffer.concat([u64(KRL_MAGIC), u32(1), u64(version), u64(BigInt(Math.floor(now / 1000))), u64(0n), str(Buffer.alloc(0)), str("scaivault")]);
  if (sorted.length === 0) return header;
  const serialList = Buffer.concat(sorted.map((s) => u64(s)));
  const certSection = Buffer.concat([str(caPublicBlob), str(Buffer.alloc(0)), Buffer.from([KRL_SECTION_CERT_SERIAL_LIST]), str(serialList)]);
  return Buffer.concat([header, Buffer.from([KRL_SECTION_CERTIFICATES]), str(certSection)]);
}
