import { findNextLink } from '../../src/registry/link';

describe('findNextLink', () => {
  it.each([
    ['the reference registry form', '</v2/test/tags/list?last=b&n=2>; rel="next"', '/v2/test/tags/list?last=b&n=2'],
    ['an absolute URL', '<http://localhost:24817/v2/ns/busybox/tags/list?n=10&last=1-glibc>; rel="next"', 'http://localhost:24817/v2/ns/busybox/tags/list?n=10&last=1-glibc'],
    ['an opaque cursor with a comma-free base64 value', '</v2/coreos/etcd/tags/list?next_page=gAAAA%3D&n=50>; rel="next"', '/v2/coreos/etcd/tags/list?next_page=gAAAA%3D&n=50'],
    ['a bare rel among several links', '</a>; rel=prev, </b,c>; title="x, y"; rel=next', '/b,c'],
    ['rel with several relation types', '</n>; rel="last next"', '/n'],
  ])('finds %s', (_name, header, target) => {
    expect(findNextLink(header)).toBe(target);
  });

  it.each([null, '', '</a>; rel="prev"', 'garbage'])('answers undefined for %p', (header) => {
    expect(findNextLink(header)).toBeUndefined();
  });
});
