/**
 * The operator console of a real `chat server` in a terminal (tmux) shows a prompt and a hint,
 * tells the operator what happens at info level, and shows users' escape sequences (set the
 * window title, clear the screen, a fake warning) visibly in /who, /whois, /rooms, /bans and
 * the notices, never executing them. Skips with a message without tmux.
 */
import assert from "node:assert/strict";
import { fingerprint } from "../../shared/crypto.ts";
import { newId } from "../../shared/messages.ts";
import { EvilClient, newSigningKey } from "../support/evil_client.ts";
import { chatLine, hasTmux, Pane } from "../support/tmux.ts";

const TMUX = hasTmux();
if (!TMUX) console.warn("console_sanitize_tmux_test: tmux is not installed; test skipped");

const TITLE = "\x1b]0;PWNED\x07";
const CLEAR = "\x1b[2J\x1b[H";
const FAKE = "\x1b[1G\x1b[2KWARNING: host key compromised";

Deno.test({
  name: "console: prompt and hint; user escape sequences are shown, never executed",
  ignore: !TMUX,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "chat-console-san-" });
    const pane = new Pane();
    const key = await newSigningKey();
    const fp = await fingerprint(key.publicRaw);
    const args = ["--host", "127.0.0.1", "--port", "0", "--data", `${dir}/srv`, "--admin", fp];
    const cmd = chatLine("server", ...args) + "; echo EXIT=$?; sleep 30";
    await pane.open(cmd, 200, 50);
    let evil: EvilClient | undefined;
    try {
      const started = await pane.until((t) => /chat>$/.test(t), "prompt");
      assert.match(started, /type \/help for operator commands/);
      const port = Number(/listening on \S+:(\d+)/.exec(started)![1]);
      const title = await pane.display("#{pane_title}");

      evil = await EvilClient.connect(port);
      evil.key = key;
      await evil.handshake();
      await evil.login("mallory");
      // The login is a notice at info level, with address, name and fingerprint.
      await pane.until((t) => /INFO login .*name=mallory fingerprint=SHA256:/.test(t), "login");
      const cmdOk = async (name: string, args: string[]) => {
        const id = newId();
        await evil!.send({ t: "cmd", id, name, args });
        const { match } = await evil!.readUntil((m) => m.id === id);
        assert.equal(match?.t, "reply", JSON.stringify(match));
      };
      await cmdOk("away", [`${TITLE}${CLEAR}${FAKE}`]);
      await cmdOk("topic", ["#lobby", `${TITLE}${CLEAR}${FAKE}`]);
      await cmdOk("ban", ["10.9.8.7", `${TITLE}${CLEAR}${FAKE}`]);

      for (const line of ["/who", "/whois mallory", "/rooms", "/bans"]) {
        await pane.keys(line, "Enter");
        await pane.until((t) => /chat>$/.test(t.split(line)[1] ?? ""), `${line} answer`);
      }
      const screen = await pane.text();
      // Nothing was executed: same title, the first lines are still there, no fake line.
      assert.equal(await pane.display("#{pane_title}"), title);
      assert.match(screen, /listening on/);
      assert.doesNotMatch(screen, /^WARNING/m);
      // Everything was shown: the escape character as the visible ␛ symbol.
      const shown = "␛]0;PWNED␇␛[2J␛[H␛[1G␛[2KWARNING: host key compromised";
      for (const line of ["/who", "/whois mallory", "/rooms", "/bans"]) {
        const answer = screen.split(line)[1].split("chat>")[0];
        assert.ok(answer.includes(shown), `${line} shows the text visibly:\n${answer}`);
      }
      // The topic change was a notice too, and shown the same way.
      assert.match(screen, /INFO topic by mallory .*␛\]0;PWNED␇/);
      assert.match(screen, /INFO ban by mallory .*target=10\.9\.8\.7/);

      await pane.keys("C-c");
      const end = await pane.until((t) => t.includes("EXIT="), "clean shutdown");
      assert.match(end, /server stopped\s+EXIT=0/);
    } finally {
      await evil?.close();
      await pane.tmux("kill-server").catch(() => "");
      await Deno.remove(dir, { recursive: true });
    }
  },
});
