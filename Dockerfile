# syntax=docker/dockerfile:1
# The runnerctl controller image.
#
#   docker build -t runnerctl-controller .
#
# A build stage compiles controller/ to JavaScript (`npm run build`, tsc -p tsconfig.build.json);
# the image runs that with production dependencies only (no tsx, no TypeScript, no dynalite) as
# the unprivileged `node` user: `node bin/runnerctl.js controller` finds the compiled
# controller/cli/main.js. No HEALTHCHECK here: the ECS task definition probes /healthz.
# NODE_VERSION is the Node.js LTS line; for repeatable builds pin the base image by digest
# (node:26-slim@sha256:...).
ARG NODE_VERSION=26

FROM node:${NODE_VERSION}-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY controller ./controller
RUN npm run build

FROM node:${NODE_VERSION}-slim AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:${NODE_VERSION}-slim
ENV NODE_ENV=production
WORKDIR /app
# Everything stays owned by root: the controller only reads its code.
COPY --from=dependencies /app/node_modules ./node_modules
COPY package.json package-lock.json ./
COPY bin ./bin
COPY --from=build /app/dist/controller ./controller
COPY crds ./crds
USER node
EXPOSE 8080
# --heap-growing-percent=50: V8 lets the heap grow to 1.5x what survived the last full GC (by
# default up to 4x): the relist and pass garbage is collected sooner, and the controller's peak
# RSS stays under 200 MiB with 10,000 live runners (docs/operations.md "Memory"). The benchmark
# starts its controller with these same flags (test/bench/image-flags.ts).
ENTRYPOINT ["node", "--heap-growing-percent=50", "bin/runnerctl.js"]
CMD ["controller"]
