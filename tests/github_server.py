"""A loopback stand-in for GitHub's REST API, held to GitHub's published OpenAPI description.

tests/forge.rs runs it to test strata's pull-request client (src/forge.rs). The description is the
file `generated/api.github.com.json` of the npm package `@octokit/openapi`, at the version and
integrity pinned in tests/openapi.lock; scripts/test downloads and verifies it (this file never
touches the network).

Every request is matched to an operation of the description by method and path template, and its
headers, path and query parameters and JSON body are checked against that operation. Answers are
built from in-memory state (pull requests and their commits), starting from the description's own
examples, and are checked against the operation's response schema before they are sent. Anything
that does not conform is recorded as a violation; the Rust test reads the record at the end from
`GET /__test__/log` and fails on any.

    python github_server.py --spec api.github.com.json --version 23.0.2 --state '{"token": ...}'

prints `listening on PORT` (an OS-assigned port on 127.0.0.1) and serves until its stdin closes,
so a test that dies cannot leave it running. The state (JSON) holds:

    token     the token strata must send as `Authorization: Bearer <token>`
    owner     the repository's owner; repo: its name
    prefix    the API's path on the server, as GitHub Enterprise's `/api/v3` (none by default)
    branches  {branch: [commit message, ...]}: the commits a new pull request for that head gets
    pulls     [{number, head, base, title, body, state, commits: [message, ...]}]: existing ones
    fail      {operationId: {status, body}}: answer that operation with this error, every time
"""

import argparse
import copy
import hashlib
import json
import re
import sys
import threading
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SPEC_URI = "urn:github:api.github.com.json"
# The version the description describes as it is (its `x-github-breaking-changes` patch it to later ones).
API_VERSION = "2022-11-28"
ACCEPT = "application/vnd.github+json"
# GitHub lists at most 250 commits of a pull request, however many it has.
MAX_LISTED_COMMITS = 250
BAD_CREDENTIALS = {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"}
CHECKED_HEADERS = ("Authorization", "Accept", "X-GitHub-Api-Version", "User-Agent", "Content-Type")
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def openapi_nullable_to_json_schema(node, key=None):
    """OpenAPI 3.0's `nullable: true` is no JSON Schema keyword: rewrite it as `anyOf` with null.

    Examples are data, not schemas, so they are left as they are (unless `example` is the name of a
    property). Works in place and returns the node to put where it was.
    """
    if isinstance(node, list):
        return [openapi_nullable_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    for k, v in node.items():
        if k in ("example", "examples") and key != "properties":
            continue
        node[k] = openapi_nullable_to_json_schema(v, k)
    if key != "properties" and node.get("nullable") is True:
        del node["nullable"]
        return {"anyOf": [{"type": "null"}, node]}
    return node


def pointer(*parts):
    """A JSON pointer into the description, as a URI fragment (`/` is `~1`, `{` percent-encoded)."""
    escaped = [str(p).replace("~", "~0").replace("/", "~1") for p in parts]
    return "#/" + "/".join(urllib.parse.quote(p, safe="~") for p in escaped)


class Spec:
    """The description, its operations by method and path template, and validation against it."""

    def __init__(self, path, version):
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        if doc["info"]["version"] != version:
            raise SystemExit(f"{path} is version {doc['info']['version']}, tests/openapi.lock pins {version}")
        doc["paths"] = openapi_nullable_to_json_schema(doc["paths"])
        doc["components"] = openapi_nullable_to_json_schema(doc["components"])
        self.doc = doc
        self.registry = Registry().with_resource(SPEC_URI, Resource(contents=doc, specification=DRAFT4))
        self.routes = []
        for template, item in doc["paths"].items():
            names = re.findall(r"{([^}]+)}", template)
            regex = "^" + re.sub(r"\\{[^}]+\\}", "([^/]+)", re.escape(template)) + "$"
            for method, op in item.items():
                if method in HTTP_METHODS:
                    self.routes.append((method.upper(), re.compile(regex), names, template, op))
        # Literal segments win over parameters (`/pulls/comments` before `/pulls/{pull_number}`).
        self.routes.sort(key=lambda r: len(r[2]))

    def find(self, method, path):
        for m, regex, names, template, op in self.routes:
            match = regex.match(path) if m == method else None
            if match:
                params = {n: urllib.parse.unquote(v) for n, v in zip(names, match.groups())}
                return template, op, params
        return None

    def resolve(self, node):
        """Follows a local `$ref` (parameters and responses are often shared components)."""
        while isinstance(node, dict) and "$ref" in node:
            node = self.registry.resolver(SPEC_URI).lookup(SPEC_URI + node["$ref"]).contents
        return node

    def errors(self, instance, ref):
        """The messages of every way `instance` fails the schema at `ref` (a fragment)."""
        validator = jsonschema.Draft4Validator({"$ref": SPEC_URI + ref}, registry=self.registry)
        found = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        return [f"at /{'/'.join(str(p) for p in e.absolute_path)}: {e.message[:300]}" for e in found]

    def example(self, name):
        return copy.deepcopy(self.doc["components"]["examples"][name]["value"])


def coerce(value, schema):
    """A query or path parameter's text as the type its schema names, for validation."""
    kind = schema.get("type")
    if kind == "integer" and re.fullmatch(r"-?[0-9]+", value):
        return int(value)
    if kind == "boolean" and value in ("true", "false"):
        return value == "true"
    return value


class GitHub:
    """The repository's pull requests and what was asked of them; one lock guards it all."""

    def __init__(self, spec, state):
        self.spec = spec
        self.lock = threading.Lock()
        self.token = state["token"]
        self.owner = state["owner"]
        self.repo = state["repo"]
        self.prefix = state.get("prefix", "")
        self.branches = state.get("branches", {})
        self.fail = state.get("fail", {})
        self.pulls = []
        for pull in state.get("pulls", []):
            self.pulls.append(dict(pull, commits=[self.commit(m, i) for i, m in enumerate(pull["commits"])]))
        self.requests = []
        self.violations = []

    def violation(self, text):
        self.violations.append(text)

    @staticmethod
    def commit(message, index):
        sha = hashlib.sha1(f"{index}\0{message}".encode()).hexdigest()
        return {"sha": sha, "message": message}

    # ------------------------------------------------------------ answers built from examples

    def urls(self, base, number):
        api = f"{base}/repos/{self.owner}/{self.repo}"
        return api, f"https://github.com/{self.owner}/{self.repo}/pull/{number}"

    def pull_object(self, base, pull, example):
        obj = self.spec.example(example)
        if isinstance(obj, list):
            obj = obj[0]
        api, html = self.urls(base, pull["number"])
        head_sha = pull["commits"][-1]["sha"] if pull["commits"] else "0" * 40
        obj.update(
            id=1000 + pull["number"],
            number=pull["number"],
            state=pull["state"],
            title=pull["title"],
            body=pull["body"],
            url=f"{api}/pulls/{pull['number']}",
            html_url=html,
            commits_url=f"{api}/pulls/{pull['number']}/commits",
        )
        # Nobody was asked to review. (The description's own example asks teams without the `type`
        # its schema requires, so an example-shaped answer would not conform.)
        obj.update(requested_reviewers=[], requested_teams=[])
        obj["head"].update(ref=pull["head"], label=f"{self.owner}:{pull['head']}", sha=head_sha)
        obj["base"].update(ref=pull["base"], label=f"{self.owner}:{pull['base']}")
        if "commits" in obj:
            obj["commits"] = len(pull["commits"])
        return obj

    def commit_object(self, base, commit):
        obj = self.spec.example("commit-items")[0]
        api, _ = self.urls(base, 0)
        obj.update(sha=commit["sha"], url=f"{api}/commits/{commit['sha']}")
        obj["html_url"] = f"https://github.com/{self.owner}/{self.repo}/commit/{commit['sha']}"
        obj["commit"]["message"] = commit["message"]
        return obj

    @staticmethod
    def validation_failed(errors):
        return 422, {
            "message": "Validation Failed",
            "errors": errors,
            "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request",
            "status": "422",
        }

    @staticmethod
    def not_found():
        return 404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"}

    @staticmethod
    def page(items, query):
        """One page of `items` as `page` and `per_page` ask; whether there is a next one."""
        per_page = int(query.get("per_page", "30"))
        page = int(query.get("page", "1"))
        start = (page - 1) * per_page
        return items[start : start + per_page], start + per_page < len(items)

    # ------------------------------------------------------------ the operations strata uses

    def answer(self, op_id, params, query, body, base):
        """(status, JSON body, extra headers) for a request that conformed to the description."""
        if op_id in self.fail:
            return self.fail[op_id]["status"], self.fail[op_id]["body"], {}
        if (params.get("owner"), params.get("repo")) != (self.owner, self.repo):
            asked = f"{params.get('owner')}/{params.get('repo')}"
            self.violation(f"{op_id}: asked about {asked}, not {self.owner}/{self.repo}")
            return (*self.not_found(), {})
        number = params.get("pull_number")
        pull = next((p for p in self.pulls if str(p["number"]) == number), None)
        if op_id == "pulls/list":
            state = query.get("state", "open")
            found = [
                p
                for p in self.pulls
                if state in ("all", p["state"])
                and ("head" not in query or query["head"] == f"{self.owner}:{p['head']}")
                and ("base" not in query or query["base"] == p["base"])
            ]
            items, more = self.page(found, query)
            if more:
                self.violation("pulls/list: the test seeded more pull requests than one page holds")
            return 200, [self.pull_object(base, p, "pull-request-simple-items") for p in items], {}
        if op_id == "pulls/create":
            head, target = body["head"], body["base"]
            if head not in self.branches:
                return (*self.validation_failed([{"resource": "PullRequest", "field": "head", "code": "invalid"}]), {})
            if any(p["state"] == "open" and p["head"] == head and p["base"] == target for p in self.pulls):
                message = f"A pull request already exists for {self.owner}:{head}."
                error = {"resource": "PullRequest", "code": "custom", "message": message}
                return (*self.validation_failed([error]), {})
            pull = {
                "number": max((p["number"] for p in self.pulls), default=0) + 1,
                "head": head,
                "base": target,
                "title": body.get("title", ""),
                "body": body.get("body"),
                "state": "open",
                "commits": [self.commit(m, i) for i, m in enumerate(self.branches[head])],
            }
            self.pulls.append(pull)
            obj = self.pull_object(base, pull, "pull-request")
            return 201, obj, {"Location": obj["url"]}
        if pull is None:
            return (*self.not_found(), {})
        if op_id == "pulls/list-commits":
            listed = pull["commits"][:MAX_LISTED_COMMITS]
            items, more = self.page(listed, query)
            headers = {}
            if more:
                following = dict(query, page=str(int(query.get("page", "1")) + 1))
                path = f"/repos/{self.owner}/{self.repo}/pulls/{number}/commits"
                headers["Link"] = f'<{base}{path}?{urllib.parse.urlencode(following)}>; rel="next"'
            return 200, [self.commit_object(base, c) for c in items], headers
        if op_id == "pulls/update":
            for field in ("title", "body", "state", "base"):
                if field in body:
                    pull[field] = body[field]
            return 200, self.pull_object(base, pull, "pull-request"), {}
        self.violation(f"{op_id}: an operation strata does not use (this server does not serve it)")
        return 501, {"message": f"{op_id} is not served here", "documentation_url": "https://docs.github.com/rest"}, {}

    # ------------------------------------------------------------ checks against the description

    def check_request(self, method, op, template, params, query, headers, raw):
        """Every way the request departs from the operation; returns the parsed body (or None)."""
        where = f"{method} {template} ({op['operationId']})"
        if headers.get("Authorization") != f"Bearer {self.token}":
            self.violation(f"{where}: the Authorization header is not `Bearer` with the expected token")
        for name, want in (("Accept", ACCEPT), ("X-GitHub-Api-Version", API_VERSION)):
            if headers.get(name) != want:
                self.violation(f"{where}: header {name} is {headers.get(name)!r}, GitHub documents {want!r}")
        if not re.fullmatch(r"strata/[0-9]+\.[0-9]+\.[0-9]+\S*", headers.get("User-Agent") or ""):
            self.violation(f"{where}: User-Agent {headers.get('User-Agent')!r} is not strata/<version>")
        declared = {}
        for param in op.get("parameters", []):
            param = self.spec.resolve(param)
            declared[(param["in"], param["name"])] = param
        for (place, name), param in declared.items():
            given = params if place == "path" else query if place == "query" else None
            if given is None:
                continue
            if name not in given:
                if param.get("required"):
                    self.violation(f"{where}: required {place} parameter {name} is missing")
                continue
            for error in jsonschema.Draft4Validator(param["schema"]).iter_errors(coerce(given[name], param["schema"])):
                self.violation(f"{where}: {place} parameter {name}={given[name]!r}: {error.message}")
        for name in query:
            if ("query", name) not in declared:
                self.violation(f"{where}: query parameter {name} is not one the operation takes")
        spec_body = self.spec.resolve(op.get("requestBody"))
        if spec_body is None:
            if raw:
                self.violation(f"{where}: a body was sent, but the operation takes none")
            return None
        if not raw:
            if spec_body.get("required"):
                self.violation(f"{where}: the operation requires a JSON body")
            return {}
        if not (headers.get("Content-Type") or "").startswith("application/json"):
            self.violation(f"{where}: Content-Type {headers.get('Content-Type')!r} for a JSON body")
        try:
            body = json.loads(raw)
        except ValueError as e:
            self.violation(f"{where}: the body is not JSON: {e}")
            return {}
        ref = pointer("paths", template, method.lower(), "requestBody", "content", "application/json", "schema")
        for error in self.spec.errors(body, ref):
            self.violation(f"{where}: request body {error}")
        # The description allows unknown properties; GitHub ignores them, so one is a typo here.
        known = self.spec.resolve(spec_body["content"]["application/json"]["schema"]).get("properties", {})
        for name in body if isinstance(body, dict) else []:
            if name not in known:
                self.violation(f"{where}: request body property {name!r} is not in the operation's schema")
        return body

    def check_response(self, method, op, template, status, body, headers):
        """Holds the answer to the operation's documented response for its status."""
        where = f"{method} {template} ({op['operationId']}) answering {status}"
        response = op["responses"].get(str(status))
        if response is None and status == 401:
            # GitHub answers 401 to any operation; the description says so once, not per operation.
            response = {"$ref": "#/components/responses/requires_authentication"}
        if response is None:
            self.violation(f"{where}: status {status} is not documented for the operation")
            return
        if "$ref" in response:
            at = response["$ref"]
        else:
            at = pointer("paths", template, method.lower(), "responses", str(status))
        documented = self.spec.resolve(response)
        if "application/json" in documented.get("content", {}):
            for error in self.spec.errors(body, at + "/content/application~1json/schema"):
                self.violation(f"{where}: response body {error}")
        elif body is not None:
            self.violation(f"{where}: a JSON body, but the response documents none")
        for name, header in documented.get("headers", {}).items():
            if name in headers:
                schema = self.spec.resolve(header)["schema"]
                for error in jsonschema.Draft4Validator(schema).iter_errors(headers[name]):
                    self.violation(f"{where}: response header {name}: {error.message}")


def handler_for(github, spec):
    class Handler(BaseHTTPRequestHandler):
        # Keep-alive, as GitHub and ureq speak it; every answer carries Content-Length.
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def send_json(self, status, body, headers=None):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def serve(self):
            url = urllib.parse.urlsplit(self.path)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if url.path == "/__test__/log":
                with github.lock:
                    log = {"requests": github.requests, "violations": github.violations, "pulls": github.pulls}
                    self.send_json(200, log)
                return
            pairs = urllib.parse.parse_qsl(url.query, keep_blank_values=True)
            query = dict(pairs)
            headers = {k: self.headers.get(k) for k in CHECKED_HEADERS}
            token_ok = headers["Authorization"] == f"Bearer {github.token}"
            base = f"http://{self.headers.get('Host')}{github.prefix}"
            path = url.path.removeprefix(github.prefix) if url.path.startswith(github.prefix + "/") else None
            with github.lock:
                record = {
                    "method": self.command,
                    "path": url.path,
                    "query": query,
                    # The log is output too: it shows whether the token was right, never the token.
                    "headers": dict(
                        headers, Authorization="Bearer <the expected token>" if token_ok else "<not the expected token>"
                    ),
                    "body": raw.decode("utf-8", "replace"),
                }
                github.requests.append(record)
                if len(pairs) != len(query):
                    github.violation(f"{self.command} {url.path}: a query parameter is repeated")
                found = spec.find(self.command, path) if path else None
                if found is None:
                    github.violation(f"{self.command} {url.path}: no operation of the description has it")
                    record["status"] = 404
                    self.send_json(*github.not_found())
                    return
                template, op, params = found
                record["operation"] = op["operationId"]
                before = len(github.violations)
                try:
                    body = github.check_request(self.command, op, template, params, query, headers, raw)
                    if not token_ok:
                        status, answer, extra = 401, BAD_CREDENTIALS, {}
                    elif len(github.violations) > before:
                        problems = "; ".join(github.violations[before:])
                        status, answer, extra = 400, {"message": f"the request does not conform: {problems}"}, {}
                    else:
                        status, answer, extra = github.answer(op["operationId"], params, query, body, base)
                        github.check_response(self.command, op, template, status, answer, extra)
                except Exception:
                    github.violation(f"{self.command} {url.path}: the test server failed:\n{traceback.format_exc()}")
                    status, answer, extra = 500, {"message": "the test server failed (see the violations)"}, {}
                record["status"] = status
            self.send_json(status, answer, extra)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = serve

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spec", required=True, help="generated/api.github.com.json of @octokit/openapi")
    parser.add_argument("--version", required=True, help="the version tests/openapi.lock pins")
    parser.add_argument("--state", required=True, help="the scenario, as JSON (see the module's doc)")
    args = parser.parse_args()
    spec = Spec(args.spec, args.version)
    github = GitHub(spec, json.loads(args.state))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(github, spec))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"listening on {server.server_address[1]}", flush=True)
    sys.stdin.read()
    server.shutdown()


if __name__ == "__main__":
    main()
