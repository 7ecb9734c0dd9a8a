// ESLint: type-checked typescript-eslint rules, plus the dependency boundaries of
// ARCHITECTURE.md section 7 expressed as per-folder `no-restricted-imports` patterns.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

/** Folders (under src/) that a given folder must not import from. */
const boundaries = {
  core: [
    "sqlite",
    "exchange",
    "middleware",
    "resilience",
    "store",
    "engine",
    "http",
    "workflow",
    "idempotency",
    "rate-limit",
    "server",
    "dashboard",
    "client",
    "cli",
    "testing",
  ],
  resilience: [
    "sqlite",
    "exchange",
    "middleware",
    "store",
    "engine",
    "http",
    "workflow",
    "idempotency",
    "rate-limit",
    "server",
    "dashboard",
    "client",
    "cli",
    "testing",
  ],
  // SQLite plumbing (group commit, WAL fsync) shared by the engine's store and the idempotency
  // store (any SQLite store of ours may use it): on core only.
  sqlite: [
    "exchange",
    "middleware",
    "resilience",
    "store",
    "engine",
    "http",
    "workflow",
    "endpoints",
    "idempotency",
    "rate-limit",
    "server",
    "dashboard",
    "client",
    "cli",
    "testing",
  ],
  // Store plumbing shared by the idempotency and rate-limit stores (store URLs, PostgreSQL
  // schema setup, Redis connection): on core only, so neither product owns the other's.
  "store-plumbing": [
    "sqlite",
    "exchange",
    "middleware",
    "resilience",
    "store",
    "engine",
    "http",
    "workflow",
    "endpoints",
    "idempotency",
    "rate-limit",
    "server",
    "dashboard",
    "client",
    "cli",
    "testing",
  ],
  store: [
    "exchange",
    "middleware",
    "resilience",
    "engine",
    "http",
    "workflow",
    "idempotency",
    "rate-limit",
    "server",
    "dashboard",
    "client",
    "cli",
  ],
  engine: ["store", "middleware", "server", "dashboard", "client", "cli"],
  // The one node:http <-> web Request/Response conversion and body reading (issues 12, 13),
  // shared by the engine, the durable endpoints' adapters and the middleware: on core only.
  exchange: [
    "resilience",
    "store",
    "engine",
    "http",
    "workflow",
    "endpoints",
    "middleware",
    "idempotency",
    "rate-limit",
    "server",
    "dashboard",
    "client",
    "cli",
    "testing",
  ],
  // `steadfast/middleware`: framework adapters (Hono, Express, Fastify, node:http) of any
  // web-standard middleware, `steadfast/idempotency`'s and `steadfast/rate-limit`'s alike.
  middleware: [
    "resilience",
    "store",
    "engine",
    "http",
    "workflow",
    "endpoints",
    "idempotency",
    "rate-limit",
    "server",
    "dashboard",
    "client",
    "cli",
    "testing",
  ],
  // Framework adapters of durable endpoints: they wrap the engine's handler, never a concrete store.
  endpoints: ["store", "middleware", "server", "dashboard", "client", "cli"],
  http: ["store", "engine", "workflow", "server", "dashboard", "client", "cli"],
  // `steadfast/idempotency` (issue 13): middleware for users' servers, on core and resilience
  // (its stores are its own, on the plumbing of src/store-plumbing), so it ships without the engine.
  idempotency: [
    "store",
    "rate-limit",
    "engine",
    "http",
    "workflow",
    "endpoints",
    "server",
    "dashboard",
    "client",
    "cli",
  ],
  // `steadfast/rate-limit` (issue 13): the same standing as idempotency (both share the background
  // loop of src/resilience and the store plumbing of src/store-plumbing); the server asks it per
  // tenant, never the reverse.
  "rate-limit": [
    "store",
    "engine",
    "http",
    "workflow",
    "endpoints",
    "server",
    "dashboard",
    "client",
    "cli",
  ],
  client: ["store", "engine", "http", "server", "cli", "resilience"],
};

// A relative import that climbs any number of folders and enters `folder`: `../store/x.ts`,
// `../../../store/sqlite/x.ts`. Folder names are unique under src/, so climbing into one from
// anywhere in src/ reaches src/<folder>.
const intoFolder = (folder) => `^(?:\\.\\./)+${folder}(?:/|$)`;

/** Modules that do I/O or read the environment: core reaches the world only through its ports. */
const ioModules = [
  "fs",
  "fs/*",
  "net",
  "tls",
  "dgram",
  "http",
  "https",
  "http2",
  "dns",
  "dns/*",
  "child_process",
  "cluster",
  "worker_threads",
  "os",
  "perf_hooks",
  "timers",
  "timers/*",
  "crypto",
  "process",
  "readline",
  "undici",
  "pg",
  "pg-*",
  "pino",
  "prom-client",
  "hono",
  "hono/*",
];

const boundaryConfigs = Object.entries(boundaries).map(([folder, banned]) => ({
  files: [`src/${folder}/**/*.ts`],
  // Tests and their support code (fixtures, harnesses) may reach across layers to set things up.
  ignores: [`src/${folder}/**/*.test.ts`, `src/${folder}/**/*.test-support.ts`],
  rules: {
    "no-restricted-imports": [
      "error",
      {
        patterns: [
          ...banned.map((other) => ({
            regex: intoFolder(other),
            message: `src/${folder} must not import src/${other} (ARCHITECTURE.md section 7: dependencies point inward).`,
          })),
          ...(folder === "core"
            ? [
                {
                  regex: "^node:",
                  message: "core does no I/O: use the ports (Clock, Random, Store, Transport).",
                },
                {
                  group: ioModules,
                  message: "core does no I/O: use the ports (Clock, Random, Store, Transport).",
                },
              ]
            : []),
        ],
      },
    ],
  },
}));

// No enum, no namespace: only erasable TypeScript, so Node runs the sources as they are.
const erasableOnly = [
  {
    selector: "TSEnumDeclaration",
    message: "No enums: use `as const` objects with unions (erasableSyntaxOnly).",
  },
  {
    selector: "TSModuleDeclaration[kind='namespace']",
    message: "No namespaces (erasableSyntaxOnly).",
  },
];

// One error root (issue 10): every error the package raises is a SteadfastError with a code.
const steadfastErrorsOnly = [
  {
    selector: "NewExpression[callee.name=/^(Error|RangeError|TypeError|SyntaxError|EvalError)$/]",
    message:
      "Raise a SteadfastError with a code (core/errors.ts: InvalidOptionError, StoreError, TerminalError...); an error that never leaves the package says why in an eslint-disable comment.",
  },
];

const CLOCK = "core reads time only through the Clock port.";
const RANDOM = "core draws randomness only through the Random port.";
const NO_IO = "core does no I/O: use the ports (Clock, Transport, Store).";

export default tseslint.config(
  { ignores: ["node_modules/**", "dist/**", "coverage/**", ".steadfast/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ["*.js", "bin/*.js"] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_" },
      ],
      "@typescript-eslint/consistent-type-imports": "error",
      "no-restricted-syntax": ["error", ...erasableOnly],
    },
  },
  {
    // The package's own code; tests and test helpers (src/testing, the store contract) may throw
    // plain errors.
    files: ["src/**/*.ts"],
    ignores: [
      "src/**/*.test.ts",
      "src/**/*.test-support.ts",
      "src/testing/**",
      "src/store/contract/**",
    ],
    rules: {
      "no-restricted-syntax": ["error", ...erasableOnly, ...steadfastErrorsOnly],
    },
  },
  {
    // core is pure (ARCHITECTURE.md section 7): time, randomness and I/O come through its ports,
    // so every decision in it is replayable. `new Date(ms)` formats a given time and is allowed.
    files: ["src/core/**/*.ts"],
    ignores: ["src/core/**/*.test.ts"],
    rules: {
      "no-restricted-globals": [
        "error",
        { name: "fetch", message: NO_IO },
        { name: "XMLHttpRequest", message: NO_IO },
        { name: "WebSocket", message: NO_IO },
        { name: "process", message: NO_IO },
        { name: "setTimeout", message: CLOCK },
        { name: "setInterval", message: CLOCK },
        { name: "setImmediate", message: CLOCK },
        { name: "clearTimeout", message: CLOCK },
        { name: "clearInterval", message: CLOCK },
        { name: "clearImmediate", message: CLOCK },
        { name: "performance", message: CLOCK },
        { name: "crypto", message: RANDOM },
      ],
      "no-restricted-properties": [
        "error",
        { object: "Date", property: "now", message: CLOCK },
        { object: "Math", property: "random", message: RANDOM },
        ...[
          "fetch",
          "setTimeout",
          "setInterval",
          "setImmediate",
          "performance",
          "crypto",
          "process",
        ].map((property) => ({ object: "globalThis", property, message: NO_IO })),
      ],
      "no-restricted-syntax": [
        "error",
        ...erasableOnly,
        ...steadfastErrorsOnly,
        {
          selector: "NewExpression[callee.name='Date'][arguments.length=0]",
          message: `${CLOCK} \`new Date(ms)\` with a given time is fine.`,
        },
        {
          selector: "CallExpression[callee.name='Date']",
          message: `${CLOCK} (\`Date()\` is the current time as a string.)`,
        },
      ],
    },
  },
  ...boundaryConfigs,
  {
    files: ["**/*.test.ts", "test/**/*.ts", "bench/**/*.ts"],
    rules: {
      "@typescript-eslint/no-non-null-assertion": "off",
      "@typescript-eslint/unbound-method": "off",
    },
  },
);
