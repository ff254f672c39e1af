/**
 * The SSRF rules of contract §10: which addresses a delivery may reach and which URLs may be
 * registered, with WEBHOOK_ALLOW_INSECURE off (and what the setting lifts).
 */
import { isGlobalAddress, webhookUrlProblem } from '../../src/webhooks';

describe('webhook address rules', () => {
  test.each([
    ['0.0.0.0', 'unspecified'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['169.254.169.254', 'link-local (cloud metadata)'],
    ['192.0.2.1', 'documentation'],
    ['198.18.0.1', 'benchmarking'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local with a zone'],
    ['fc00::1', 'unique-local'],
    ['fd12:3456::1', 'unique-local'],
    ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
    ['::ffff:8.8.8.8', 'IPv4-mapped, even of a public address'],
    ['64:ff9b::a00:1', 'NAT64'],
    ['2002:7f00:1::', '6to4 of loopback'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'Teredo'],
    ['2001:db8::1', 'documentation'],
    ['ff02::1', 'multicast'],
    ['::127.0.0.1', 'IPv4-compatible'],
    ['hooks.example.com', 'a name, not an address'],
  ])('%s is refused (%s)', (address) => {
    expect(isGlobalAddress(address)).toBe(false);
  });

  test.each(['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '2a00:1450:4001:82a::200e'])(
    '%s is global',
    (address) => {
      expect(isGlobalAddress(address)).toBe(true);
    },
  );

  test.each([
    ['http://hooks.example.com/in', 'must be an https URL'],
    ['ftp://hooks.example.com/in', 'must be an https URL'],
    ['hooks.example.com/in', 'must be an absolute URL'],
    ['https://user:pw@hooks.example.com/in', 'must not carry a user name or password'],
    ['https://127.0.0.1/in', 'non-global'],
    ['https://[::1]/in', 'non-global'],
    ['https://[::ffff:7f00:1]/in', 'non-global'],
    ['https://10.0.0.1:8443/in', 'non-global'],
    ['https://169.254.169.254/latest/meta-data', 'non-global'],
    ['https://[fd00::1]/in', 'non-global'],
    ['https://0.0.0.0/in', 'non-global'],
    ['https://2130706433/in', 'non-global'], // 127.0.0.1 as one number: the URL parser makes it an address
    ['https://localhost/in', 'non-global'],
    ['https://api.localhost/in', 'non-global'],
  ])('registering %s is refused', (url, problem) => {
    expect(webhookUrlProblem(url, false)).toContain(problem);
  });

  test('an https URL with a public name or address is accepted', () => {
    expect(webhookUrlProblem('https://hooks.example.com/in?x=1', false)).toBeUndefined();
    expect(webhookUrlProblem('https://8.8.8.8/in', false)).toBeUndefined();
  });

  test('WEBHOOK_ALLOW_INSECURE lifts the https and address rules, not the URL form', () => {
    expect(webhookUrlProblem('http://127.0.0.1:8080/in', true)).toBeUndefined();
    expect(webhookUrlProblem('ftp://127.0.0.1/in', true)).toBe('must be an https URL');
    expect(webhookUrlProblem('https://u:p@127.0.0.1/in', true)).toBeDefined();
  });
});
