# ScaiVault container image. Untested here: this machine cannot pull base images (checked by
# dockerfilelint in src/system/container.test.ts). Build: docker build -t scaivault .
FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 compiles when no prebuilt binary matches.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY . .
RUN npm ci && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production BIND_ADDRESS=0.0.0.0:8443 DATABASE_URL=sqlite:/data/vault.db KMS_LOCAL_KEY_FILE=/data/root.key
WORKDIR /app
COPY --from=build --chown=node:node /app/package.json /app/package-lock.json ./
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
COPY --from=build --chown=node:node /app/sdks/typescript ./sdks/typescript
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8443
HEALTHCHECK --interval=30s --timeout=5s --retries=3 CMD node dist/system/healthcheck.js
CMD ["node", "dist/main.js"]
