import assert from "node:assert/strict";
import { addressGroup } from "../../server/ip_prefix.ts";

Deno.test("addressGroup: per-address limits count IPv4 addresses and IPv6 /64 blocks", () => {
  assert.equal(addressGroup("127.0.0.2"), "127.0.0.2");
  assert.equal(addressGroup("::ffff:10.1.2.3"), "10.1.2.3", "IPv4-mapped counts as IPv4");
  const a = addressGroup("2001:db8:1:2:3:4:5:6");
  assert.equal(a, "2001:db8:1:2::/64");
  assert.equal(addressGroup("2001:db8:1:2::9"), a, "one /64, one budget");
  assert.notEqual(addressGroup("2001:db8:1:3::9"), a, "the next /64 is another");
  assert.equal(addressGroup("not an address"), "not an address");
});
