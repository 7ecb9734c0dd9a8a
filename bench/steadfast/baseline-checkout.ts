// Another build of Steadfast to measure beside this one in the same run: a git ref checked out
// into a temporary `git worktree` (sharing this repository's node_modules through a symlink), so
// that a change and the code before it meet the same machine, load and PostgreSQL server.
import { execFileSync } from "node:child_process";
import { mkdtempSync, realpathSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The repository this benchmark runs from. */
export const REPOSITORY = join(import.meta.dirname, "..", "..");

/** A build checked out for the benchmark. */
export interface BaselineCheckout {
  /** The ref as given, e.g. `main` or `HEAD~3`. */
  ref: string;
  /** Its commit, abbreviated. */
  shortSha: string;
  /** The checkout's root (it has `src/`, `bin/` and `bench/` of that commit). */
  root: string;
  /** Removes the worktree. Idempotent. */
  remove(): void;
}

/**
 * Checks `ref` out into a temporary detached worktree of this repository, with `node_modules`
 * linked to this one's (the dependencies of both builds must then be the same; a baseline whose
 * package.json differs runs on this build's dependencies). Throws if git cannot resolve `ref`.
 */
export function checkOutBaseline(ref: string): BaselineCheckout {
  const git = (...args: string[]): string =>
    execFileSync("git", ["-C", REPOSITORY, ...args], { encoding: "utf8" }).trim();
  const shortSha = git("rev-parse", "--short", `${ref}^{commit}`);
  const root = join(mkdtempSync(join(tmpdir(), "steadfast-baseline-")), shortSha);
  git("worktree", "add", "--detach", "--quiet", root, shortSha);
  let removed = false;
  const remove = (): void => {
    if (removed) return;
    removed = true;
    try {
      git("worktree", "remove", "--force", root);
    } finally {
      rmSync(join(root, ".."), { recursive: true, force: true });
    }
  };
  try {
    symlinkSync(realpathSync(join(REPOSITORY, "node_modules")), join(root, "node_modules"));
  } catch (error) {
    remove();
    throw error;
  }
  return { ref, shortSha, root, remove };
}
