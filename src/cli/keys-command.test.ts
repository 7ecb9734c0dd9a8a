import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CliIo } from "./cli-io.ts";
import { main } from "./main.ts";
import { KEY_ONE, KEY_TWO, startHarness, type Harness } from "./test-harness.test-support.ts";

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness();
});
afterAll(async () => {
  await harness.close();
});

/** Runs `steadfast ...args` in this process with an operator key (tenant t1), capturing output. */
async function steadfast(
  args: string[],
  key = KEY_ONE,
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const io: CliIo = {
    env: { STEADFAST_URL: harness.serverUrl, STEADFAST_API_KEY: key },
    cwd: harness.dir,
    out: (text) => void (stdout += text),
    err: (text) => void (stderr += text),
    readFile: () => {
      throw Object.assign(new Error("no files here"), { code: "ENOENT" });
    },
    exit: () => undefined as never,
    onSignal: () => () => undefined,
    now: () => 0,
  };
  const code = await main(["node", "steadfast", ...args], io);
  return { code, stdout, stderr };
}

describe("steadfast keys", () => {
  it("is listed in the help, with its commands and how to rotate", async () => {
    expect((await steadfast(["--help"])).stdout).toMatch(/^\s+keys\s/m);
    const help = await steadfast(["keys", "--help"]);
    for (const command of ["create", "list", "revoke"])
      expect(help.stdout).toMatch(new RegExp(`^\\s+${command}\\s`, "m"));
    expect(help.stdout).toContain("Rotate a key: create a new one");
  });

  it("create prints the key alone on standard output, and the key works", async () => {
    const created = await steadfast(["keys", "create", "--tenant", "t9", "--name", "reports"]);
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^sf_[A-Za-z0-9_-]{43}\n$/);
    expect(created.stderr).toMatch(
      /^created key_[0-9A-Z]{26} for tenant t9: this is the only time the key is shown, store it now\n$/,
    );
    const key = created.stdout.trim();
    expect((await steadfast(["calls", "list"], key)).stdout).toBe("no calls\n");

    const json = await steadfast(["keys", "create", "--tenant", "t9", "--json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({ tenant: "t9", source: "cli" });
  });

  it("list shows ids, prefixes and sources, never a key; revoke refuses the key at once", async () => {
    const key = (
      await steadfast(["keys", "create", "--tenant", "t8", "--name", "ci"])
    ).stdout.trim();
    const list = await steadfast(["keys", "list", "--tenant", "t8"]);
    expect(list.code).toBe(0);
    const [header, row, ...rest] = list.stdout.trimEnd().split("\n");
    expect(header).toMatch(
      /^ID\s+TENANT\s+PREFIX\s+SOURCE\s+CREATED\s+LAST USED\s+REVOKED\s+NAME$/,
    );
    expect(rest).toEqual([]);
    const id = row!.split(/\s+/)[0]!;
    expect(row).toMatch(
      new RegExp(
        `^key_[0-9A-Z]{26}\\s+t8\\s+${key.slice(0, 8)}…\\s+cli\\s+\\S+Z\\s+\\S+\\s+-\\s+ci$`,
      ),
    );
    expect((await steadfast(["keys", "list"])).stdout).not.toContain(key);

    const revoked = await steadfast(["keys", "revoke", id]);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toMatch(
      new RegExp(`^revoked ${id} \\(tenant t8, ${key.slice(0, 8)}…\\) at \\S+Z\\n$`),
    );
    const refused = await steadfast(["calls", "list"], key);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/Unknown or revoked API key.*HTTP 401 unauthorized/);
    expect((await steadfast(["keys", "list", "--tenant", "t8"])).stdout).toBe("no keys\n");
    expect((await steadfast(["keys", "list", "--tenant", "t8", "--all"])).stdout).toMatch(
      new RegExp(`^${id}\\s.*\\s\\S+Z by operator\\s+ci$`, "m"),
    );
  });

  it("explains mistakes in one line: a key for an id, an unknown id, no --tenant, not an operator", async () => {
    const pasted = await steadfast(["keys", "revoke", "sf_not_an_id"]);
    expect(pasted).toMatchObject({ code: 1, stdout: "" });
    expect(pasted.stderr).toBe(
      "steadfast: revoke takes the key's id (key_...), not the key itself: find it with `steadfast keys list`\n",
    );
    const unknown = await steadfast(["keys", "revoke", "key_00000000000000000000000000"]);
    expect(unknown.stderr).toBe(
      "steadfast: No API key key_00000000000000000000000000 (HTTP 404 not_found)\n",
    );
    const missing = await steadfast(["keys", "create"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/required option '--tenant <tenant>' not specified/);
    const forbidden = await steadfast(["keys", "list"], KEY_TWO);
    expect(forbidden.code).toBe(1);
    expect(forbidden.stderr).toMatch(/HTTP 403 forbidden/);
    expect(forbidden.stderr).not.toMatch(/\bt1\b/);
  });
});
