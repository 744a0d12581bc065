"""Signs requests with botocore's S3 SigV4 signer, for S3RequestSignerTests to compare velo's signatures with.

Reads a JSON array of requests on stdin ({method, url, headers: [[name, value]], body_hex, region, access_key,
secret_key, token, time: "YYYY-mm-ddTHH:MM:SS"}) and prints one Authorization header per line. A test helper, not
part of the product.
"""
import datetime
import json
import sys
from unittest import mock

import botocore.auth
import botocore.awsrequest
import botocore.credentials

for item in json.load(sys.stdin):
    credentials = botocore.credentials.Credentials(item["access_key"], item["secret_key"], item.get("token"))
    signer = botocore.auth.S3SigV4Auth(credentials, "s3", item["region"])
    request = botocore.awsrequest.AWSRequest(
        method=item["method"], url=item["url"], headers=dict(item["headers"]), data=bytes.fromhex(item["body_hex"]))
    when = datetime.datetime.strptime(item["time"], "%Y-%m-%dT%H:%M:%S")
    with mock.patch("botocore.auth.get_current_datetime", return_value=when):
        signer.add_auth(request)
    print(request.headers["Authorization"])
