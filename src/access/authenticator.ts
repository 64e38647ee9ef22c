import { VaultError } from "../http/errors.js";
import type { Principal } from "./principal.js";
import { VaultTokens } from "./vault-tokens.js";

/** Verifies bearer credentials that are not vault tokens (ScaiKey JWTs). */
export interface JwtVerifier {
  verify(jwt: string): Promise<Principal>;
}

/** Adjusts an authenticated principal (the identity directory's verdict, groups and roles), or refuses it. */
export interface PrincipalRefiner {
  refine(principal: Principal): Promise<Principal>;
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/** The one place a request's credential becomes a Principal. */
export class Authenticator {
  constructor(private readonly vaultTokens: VaultTokens, private readonly jwt: JwtVerifier | null, private readonly refiner: PrincipalRefiner | null = null) {}

  async authenticate(authorization: string | undefined): Promise<Principal> {
    const principal = await this.credential(authorization);
    return this.refiner ? this.refiner.refine(principal) : principal;
  }

  private async credential(authorization: string | undefined): Promise<Principal> {
    const match = authorization ? BEARER.exec(authorization) : null;
    if (!match) throw new VaultError("authentication_required", "Send Authorization: Bearer <token>");
    const bearer = match[1];
    if (VaultTokens.looksLikeVaultToken(bearer)) return this.vaultTokens.authenticate(bearer);
    if (bearer.split(".").length === 3 && this.jwt) return this.jwt.verify(bearer);
    throw new VaultError("token_invalid", "The token is not valid");
  }

  // --- console sessions (src/console): a session re-checks its vault token by id on every request,
  // through the same refiner as a bearer, so the directory's verdict (a suspended identity refused,
  // its directory groups and roles) reaches console sessions too.
  async authenticateTokenId(tokenId: string): Promise<Principal> {
    const principal = await this.vaultTokens.authenticateById(tokenId);
    return this.refiner ? this.refiner.refine(principal) : principal;
  }
}
