"""moto's server with IAM enforcement, and its identity, for MotoServer.swift. A test helper, not part of the product.

`moto_identity.py identity ENDPOINT BUCKET`: gives a moto server started with INITIAL_NO_AUTH_ACTION_COUNT=8 its
identities. moto lets its first eight actions through unauthenticated; they are spent here, exactly: for the user
`velo`, create it, create a managed policy allowing s3:* and nothing else, attach it, create its access key; the
same for `velo-no-list`, whose policy allows s3:* but denies s3:ListBucket (the least-privilege mistake of a
policy that grants objects but not their listing). Every later request is checked (signature and policy). The
script then shows that they are: the bucket is made with velo's key, and a request signed with a wrong secret, one
with an unknown access key, an IAM action the policy does not allow and a listing by velo-no-list are each refused
(velo-no-list may still write and read an object). Prints {"access_key", "secret_key", "no_list_access_key",
"no_list_secret_key"} as JSON; exits non-zero, saying why, when moto does not enforce.

`moto_identity.py serve PORT [--as-installed]`: moto's server (moto.server.main, as `moto_server -H 127.0.0.1 -p
PORT`), which exits when the process that started it is gone (a test process that crashed runs no atexit), handles
requests that change something one at a time (as AWS applies conditional writes atomically; moto alone does not),
and has one correction to its SigV4 check (none with --as-installed). moto recomputes a request's signature from
werkzeug's `request.url`, whose query string is decoded (`prefix=a%2Fb%2F` arrives as `prefix=a/b/`), and hands it
to botocore, which takes a URL's query as already canonical: so every signed request with a `/` (or another
reserved character) in a query value fails with SignatureDoesNotMatch, whoever signed it (boto3's
`list_objects_v2(Prefix="a/")` too; getmoto/moto#5948). The correction gives the check the query as sent (WSGI's
QUERY_STRING), each name and value percent-decoded and encoded again as SigV4's canonical request says (RFC 3986
unreserved characters kept, everything else %XX), which is what AWS does. The signature is still checked in full:
only the canonical query moto computes changes.
"""
import json
import sys


def identity(endpoint, bucket):
    import boto3
    import botocore.config
    import botocore.exceptions

    config = botocore.config.Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"})

    def client(service, key="unauthenticated", secret="unauthenticated"):
        return boto3.client(
            service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key, aws_secret_access_key=secret,
            config=config)

    def refused(what, call, codes):
        try:
            call()
        except botocore.exceptions.ClientError as error:
            code = error.response["Error"]["Code"]
            if code in codes:
                return
            sys.exit(f"moto refused {what} with {code}, expected one of {codes}")
        sys.exit(f"moto does not enforce IAM: {what} was accepted")

    iam = client("iam")

    def user(name, statements):
        iam.create_user(UserName=name)
        policy = iam.create_policy(
            PolicyName=f"{name}-s3", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}))
        iam.attach_user_policy(UserName=name, PolicyArn=policy["Policy"]["Arn"])
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return key["AccessKeyId"], key["SecretAccessKey"]

    allow = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}
    access, secret = user("velo", [allow])
    no_list_access, no_list_secret = user("velo-no-list", [allow, {"Effect": "Deny", "Action": "s3:ListBucket", "Resource": "*"}])

    # From here on every request is authenticated.
    client("s3", access, secret).create_bucket(Bucket=bucket)
    refused(
        "a request signed with a wrong secret", lambda: client("s3", access, secret + "x").list_objects_v2(Bucket=bucket),
        {"SignatureDoesNotMatch"})
    refused(
        "a request with an unknown access key",
        lambda: client("s3", "AKIAUNKNOWNUNKNOWN00", secret).list_objects_v2(Bucket=bucket), {"InvalidAccessKeyId"})
    refused("an IAM action the policy does not allow", lambda: client("iam", access, secret).list_users(), {"AccessDenied"})
    no_list = client("s3", no_list_access, no_list_secret)
    no_list.put_object(Bucket=bucket, Key="velo-no-list-probe", Body=b"1")
    no_list.get_object(Bucket=bucket, Key="velo-no-list-probe")
    no_list.delete_object(Bucket=bucket, Key="velo-no-list-probe")
    refused("a listing denied by the policy", lambda: no_list.list_objects_v2(Bucket=bucket), {"AccessDenied"})
    print(json.dumps({
        "access_key": access, "secret_key": secret, "no_list_access_key": no_list_access,
        "no_list_secret_key": no_list_secret}))


def serve(port, correct):
    import os
    import threading
    import time
    from urllib.parse import quote, unquote, urlsplit, urlunsplit

    import flask
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication
    from moto.server import main

    parent = os.getppid()

    def exit_with_parent():
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=exit_with_parent, daemon=True).start()

    def canonical(query):
        pairs = []
        for item in query.split("&"):
            if item:
                name, _, value = item.partition("=")
                pairs.append(f"{quote(unquote(name), safe='-_.~')}={quote(unquote(value), safe='-_.~')}")
        return "&".join(pairs)

    check = ActionAuthenticatorMixin._authenticate_and_authorize_action

    def check_as_sent(self, iam_request_cls, resource="*"):
        if not flask.has_request_context():
            return check(self, iam_request_cls, resource)
        uri = self.uri
        self.uri = urlunsplit(urlsplit(uri)._replace(query=canonical(flask.request.environ.get("QUERY_STRING", ""))))
        try:
            return check(self, iam_request_cls, resource)
        finally:
            self.uri = uri

    if correct:
        ActionAuthenticatorMixin._authenticate_and_authorize_action = check_as_sent

    # moto checks a conditional write (If-None-Match, If-Match) and then makes it, with no lock between the two, in
    # one of werkzeug's threads: two writers racing on one key can both pass the check (seen on a loaded machine).
    # AWS applies conditional writes atomically; so that the tests check velo's use of them and not moto's race,
    # requests that change something are handled one at a time (reads still run side by side).
    writes = threading.Lock()
    dispatch = DomainDispatcherApplication.__call__

    def one_write_at_a_time(self, environ, start_response):
        if environ.get("REQUEST_METHOD") in ("PUT", "POST", "DELETE"):
            with writes:
                return dispatch(self, environ, start_response)
        return dispatch(self, environ, start_response)

    DomainDispatcherApplication.__call__ = one_write_at_a_time
    main(["-H", "127.0.0.1", "-p", port])


if __name__ == "__main__":
    if sys.argv[1:2] == ["identity"] and len(sys.argv) == 4:
        identity(sys.argv[2], sys.argv[3])
    elif sys.argv[1:2] == ["serve"] and len(sys.argv) in (3, 4) and sys.argv[3:] in ([], ["--as-installed"]):
        serve(sys.argv[2], correct=sys.argv[3:] == [])
    else:
        sys.exit("usage: moto_identity.py identity ENDPOINT BUCKET | serve PORT [--as-installed]")
