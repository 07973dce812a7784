# One image for every component of ours (gateway, the four processors, the payment-gateway
# simulator, the read-model projection): the compose files pick the entry with `command`.
# The sources run as TypeScript through tsx, a devDependency, so the install keeps dev
# dependencies; there is no build step to separate.
FROM node:20-slim

WORKDIR /app
# The manifests alone first, so the dependency layer survives source edits; the patches are
# applied by the install (postinstall: patch-package).
COPY package.json package-lock.json ./
COPY patches ./patches
RUN npm ci --no-audit --no-fund && npm cache clean --force

COPY . .

# Where STATE_DIR volumes mount: a named volume takes the ownership of the directory it
# covers, so the node user can write its stores.
RUN mkdir -p /var/lib/orderstream && chown node:node /var/lib/orderstream
USER node

# Alone, the image runs the whole system in one process on the embedded defaults
# (`docker run -e HOST=0.0.0.0 -p 8080:8080 <image>`); each compose service overrides this.
CMD ["node", "--import", "tsx", "main.ts"]
