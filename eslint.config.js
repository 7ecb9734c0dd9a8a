// ESLint: type-checked typescript-eslint rules, plus the dependency boundaries of
// ARCHITECTURE.md section 7 expressed as per-folder `no-restricted-imports` patterns.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

/** Folders (under src/) that a given folder must not import from. */
const boundaries = {
  core: [
    "resilience",
    "store",
    "engine",
    "http",
    "workflow",
    "idempotency",
    "server",
    "dashboard",
    "client",
    "cli",
    "testing",
  ],
  resilience: [
    "store",
    "engine",
    "http",
    "workflow",
    "idempotency",
    "server",
    "dashboard",
    "client",
    "cli",
    "testing",
  ],
  store: [
    "resilience",
    "engine",
    "http",
    "workflow",
    "idempotency",
    "server",
    "dashboard",
    "client",
    "cli",
  ],
  engine: ["store", "server", "dashboard", "client", "cli"],
  http: ["store", "engine", "workflow", "server", "dashboard", "client", "cli"],
  client: ["store", "engine", "http", "server", "cli", "resilience"],
};

const boundaryConfigs = Object.entries(boundaries).map(([folder, banned]) => ({
  files: [`src/${folder}/**/*.ts`],
  ignores: [`src/${folder}/**/*.test.ts`],
  rules: {
    "no-restricted-imports": [
      "error",
      {
        patterns: banned.map((other) => ({
          group: [`../${other}/*`, `../../${other}/*`, `../${other}`, `../../${other}`],
          message: `src/${folder} must not import src/${other} (ARCHITECTURE.md section 7: dependencies point inward).`,
        })),
      },
    ],
  },
}));

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
      "no-restricted-syntax": [
        "error",
        {
          selector: "TSEnumDeclaration",
          message: "No enums: use `as const` objects with unions (erasableSyntaxOnly).",
        },
        {
          selector: "TSModuleDeclaration[kind='namespace']",
          message: "No namespaces (erasableSyntaxOnly).",
        },
      ],
    },
  },
  {
    files: ["src/core/**/*.ts"],
    ignores: ["src/core/**/*.test.ts"],
    rules: {
      "no-restricted-globals": [
        "error",
        { name: "fetch", message: "core does no I/O: use the Transport port." },
        { name: "setTimeout", message: "core does no I/O: use the Clock port." },
        { name: "setInterval", message: "core does no I/O: use the Clock port." },
      ],
      "no-restricted-properties": [
        "error",
        {
          object: "Date",
          property: "now",
          message: "core reads time only through the Clock port.",
        },
        {
          object: "Math",
          property: "random",
          message: "core draws randomness only through the Random port.",
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
