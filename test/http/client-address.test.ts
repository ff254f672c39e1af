/** The key a client address is rate limited under (contract §8): IPv6 per /64. */
import { addressLimitKey } from '../../src/http/client-address';

describe('addressLimitKey', () => {
  test.each([
    ['192.0.2.7', '192.0.2.7'],
    ['::ffff:192.0.2.7', '192.0.2.7'],
    ['::FFFF:192.0.2.7', '192.0.2.7'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:0db8:0001:0002:ffff:ffff:ffff:ffff', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['::', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['64:ff9b::192.0.2.7', '64:ff9b:0:0::/64'],
    ['unknown', 'unknown'],
  ])('%s → %s', (address, key) => {
    expect(addressLimitKey(address)).toBe(key);
  });

  test('two hosts of one /64 share a key; the next /64 does not', () => {
    expect(addressLimitKey('2001:db8:a:b::1')).toBe(addressLimitKey('2001:db8:a:b:ffff:ffff:ffff:ffff'));
    expect(addressLimitKey('2001:db8:a:b::1')).not.toBe(addressLimitKey('2001:db8:a:c::1'));
  });
});
