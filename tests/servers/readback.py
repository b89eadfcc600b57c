"""Reads back what ferry copied OSS -> COS with the official Python SDKs only
(oss2 for the source, cos-python-sdk-v5 / qcloud_cos for the destination),
through the dialect proxies: a second pair of clients ferry did not write,
next to readback.js.

  python readback.py check --oss URL --oss-bucket B --cos URL --cos-bucket B
                           [--cos-prefix P] [--expect N]

Lists both sides seven keys a page (oss2 ObjectIteratorV2, qcloud_cos
list_objects with markers); for every source key compares with the
destination: key, listed size, Content-Length, Content-Type, user metadata,
x-oss-hash-crc64ecma vs x-cos-hash-crc64ecma; reads the source body with
oss2 (which checks it against the source's CRC-64 header itself) and the
destination body with qcloud_cos, and checks the length and the CRC-64/ECMA
(computed here with crcmod) of both against the source's header.

Credentials: OSS_AK/OSS_SK, COS_AK/COS_SK in the environment. Prints one line
per difference; exits 1 if there is any, 2 on an error.
"""
import argparse
import json
import logging
import os
import sys
from urllib.parse import urlparse

import crcmod
import oss2
from qcloud_cos import CosConfig, CosS3Client

# CRC-64/XZ (what OSS and COS call crc64ecma): ECMA-182 polynomial,
# reflected, initial value and final xor all ones.
crc64 = crcmod.mkCrcFun(0x142F0E1EBA9EA3693, initCrc=0, xorOut=0xFFFFFFFFFFFFFFFF, rev=True)

OSS_REGION = 'cn-hangzhou'
COS_REGION = 'ap-guangzhou'
PAGE = 7


def parse_args(argv):
    p = argparse.ArgumentParser(prog='readback.py')
    p.add_argument('cmd', choices=['check'])
    p.add_argument('--oss', required=True, help='the OSS proxy, http://127.0.0.1:PORT')
    p.add_argument('--oss-bucket', required=True)
    p.add_argument('--cos', required=True, help='the COS proxy, http://127.0.0.1:PORT')
    p.add_argument('--cos-bucket', required=True)
    p.add_argument('--cos-prefix', default='')
    p.add_argument('--expect', type=int, default=-1)
    return p.parse_args(argv)


def env(name):
    v = os.environ.get(name)
    if not v:
        raise SystemExit(f'readback.py: {name} is not set')
    return v


def oss_bucket(o):
    # An IP endpoint makes oss2 address the bucket path-style
    # (http://127.0.0.1:PORT/bucket/key, Host the proxy's address); V4
    # signing as readback.js uses, scoped to the proxy's region.
    auth = oss2.AuthV4(env('OSS_AK'), env('OSS_SK'))
    return oss2.Bucket(auth, o.oss, o.oss_bucket, region=OSS_REGION, connect_timeout=60, enable_crc=True)


def cos_client(o):
    # IP + Port: qcloud_cos connects there and sends the virtual-hosted Host
    # bucket.cos.<region>.myqcloud.com, which it also signs.
    u = urlparse(o.cos)
    conf = CosConfig(Region=COS_REGION, SecretId=env('COS_AK'), SecretKey=env('COS_SK'), Scheme=u.scheme,
                     IP=u.hostname, Port=u.port, Timeout=60, AutoSwitchDomainOnRetry=False)
    # retry=0: a failure the proxy answers shows as what it is, not hidden by a retry.
    return CosS3Client(conf, retry=0)


def oss_list(bucket):
    return {ob.key: ob.size for ob in oss2.ObjectIteratorV2(bucket, max_keys=PAGE)}


def cos_list(o, c):
    out = {}
    marker = ''
    while True:
        r = c.list_objects(Bucket=o.cos_bucket, Prefix=o.cos_prefix, Marker=marker, MaxKeys=PAGE)
        contents = r.get('Contents', [])
        for ob in contents:
            out[ob['Key']] = int(ob['Size'])
        if r.get('IsTruncated') not in ('true', True):
            return out
        marker = r.get('NextMarker') or contents[-1]['Key']


def lower(headers):
    # qcloud_cos gives a plain dict with the names as received.
    return {k.lower(): v for k, v in headers.items()}


def user_meta(headers, prefix):
    return {k[len(prefix):]: v for k, v in headers.items() if k.startswith(prefix)}


def check(o):
    oss = oss_bucket(o)
    cos = cos_client(o)
    diffs = []

    def diff(key, what, src, dst):
        diffs.append(f'{json.dumps(key, ensure_ascii=False)}: {what}: source {json.dumps(src, ensure_ascii=False)}, '
                     f'destination {json.dumps(dst, ensure_ascii=False)}')

    src = oss_list(oss)
    dst = cos_list(o, cos)
    if o.expect >= 0 and len(src) != o.expect:
        diffs.append(f'source lists {len(src)} objects, expected {o.expect}')
    for k in dst:
        if not k.startswith(o.cos_prefix) or k[len(o.cos_prefix):] not in src:
            diffs.append(f'{json.dumps(k, ensure_ascii=False)}: only at the destination')

    checked = bytes_read = src_read = mp = 0
    for key, size in src.items():
        dkey = o.cos_prefix + key
        if dkey not in dst:
            diffs.append(f'{json.dumps(key, ensure_ascii=False)}: missing at the destination')
            continue
        if size != dst[dkey]:
            diff(key, 'listed size', size, dst[dkey])
        sh = lower(oss.head_object(key).headers)
        dh = lower(cos.head_object(Bucket=o.cos_bucket, Key=dkey))
        src_crc = sh.get('x-oss-hash-crc64ecma')
        for what, a, b in [
            ('Content-Length', sh.get('content-length'), dh.get('content-length')),
            ('Content-Type', sh.get('content-type'), dh.get('content-type')),
            ('user metadata', user_meta(sh, 'x-oss-meta-'), user_meta(dh, 'x-cos-meta-')),
            ('CRC-64', src_crc, dh.get('x-cos-hash-crc64ecma')),
        ]:
            if a != b:
                diff(key, what, a, b)
        if not src_crc:
            diffs.append(f'{json.dumps(key, ensure_ascii=False)}: the source shows no CRC-64 '
                         '(not written through the OSS proxy?)')
        if sh.get('x-oss-object-type') == 'Multipart':
            mp += 1

        # The source body: oss2 compares the CRC-64 of what it read with the
        # header itself (enable_crc) and raises InconsistentError.
        try:
            sbody = oss.get_object(key).read()
            src_read += len(sbody)
            scrc = str(crc64(sbody))
            if scrc != src_crc:
                diff(key, 'CRC-64 of the source bytes', src_crc, scrc)
        except oss2.exceptions.InconsistentError as e:
            diff(key, 'oss2 CRC-64 check of the source bytes', src_crc, str(e))
        dbody = cos.get_object(Bucket=o.cos_bucket, Key=dkey)['Body'].get_raw_stream().read()
        bytes_read += len(dbody)
        if len(dbody) != size:
            diff(key, 'bytes read back', size, len(dbody))
        crc = str(crc64(dbody))
        if crc != src_crc:
            diff(key, 'CRC-64 of the bytes read back', src_crc, crc)
        checked += 1

    for line in diffs:
        print(f'DIFF {line}')
    print(f'readback.py: {checked} objects ({mp} multipart at the source), {bytes_read} bytes read with '
          f'qcloud_cos {cos_version()} ({src_read} source bytes with oss2 {oss2.__version__}), '
          f'{len(diffs)} differences')
    return not diffs


def cos_version():
    from importlib.metadata import version
    return version('cos-python-sdk-v5')


def main(argv):
    o = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    try:
        return 0 if check(o) else 1
    except Exception as e:  # an SDK error names the request; no secret is in it
        print(f'readback.py: {type(e).__name__}: {e}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
