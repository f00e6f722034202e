"""Seeds a running assetd through its API so that schemathesis meets real objects, then writes the
schemathesis configuration that feeds their ids to the operations taking ids.

Usage: schemathesis-seed.py <base url> <token> <config path>

Creates three uploads (images, so transforms run), a collection, a saved filter and a tag, three
completed upload requests POST /uploads may create from, and a spare upload request whose signed
PUT URL the direct-PUT operation is fuzzed against. Ids reach
schemathesis as dictionaries: path parameters use them with some probability and are random
otherwise, so both "found" and "not found" answers are exercised.
"""

import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

BASE, TOKEN, CONFIG = sys.argv[1], sys.argv[2], sys.argv[3]
HEADERS = {
    "Authorization": f"Bearer {TOKEN}",
    "Accept": "application/json",
    "Content-Type": "application/json",
    "X-Api-Version": "3",
}


def call(method, path, body=None, expect=200):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, method=method, headers=HEADERS)
    try:
        with urllib.request.urlopen(request) as response:
            status, payload = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, payload = error.code, error.read()
    if status != expect:
        sys.exit(f"seed: {method} {path} answered {status}, expected {expect}: {payload[:500]!r}")
    return json.loads(payload) if payload else None


def upload_request(filename):
    return call("POST", "/upload-requests", {"data": {"type": "upload_request", "attributes": {"filename": filename}}})["data"]


def put_file(url, content):
    request = urllib.request.Request(url, data=content, method="PUT", headers={"Content-Type": "application/octet-stream"})
    with urllib.request.urlopen(request) as response:
        assert response.status == 200, response.status


def job_result(job_id):
    for _ in range(100):
        request = urllib.request.Request(f"{BASE}/job-results/{job_id}", headers=HEADERS)
        try:
            with urllib.request.urlopen(request) as response:
                return json.loads(response.read())["data"]["attributes"]
        except urllib.error.HTTPError as error:
            if error.code != 404:
                raise
        time.sleep(0.1)
    sys.exit(f"seed: job {job_id} did not finish")


def create_upload(fixture, collection_id, tags):
    with open(f"tests/fixtures/{fixture}", "rb") as file:
        content = file.read()
    request = upload_request(fixture)
    put_file(request["attributes"]["url"], content)
    body = {"data": {"type": "upload", "attributes": {"path": request["id"], "tags": tags, "author": "seed"},
                     "relationships": {"upload_collection": {"data": {"type": "upload_collection", "id": collection_id}}}}}
    job_id = call("POST", "/uploads", body, expect=202)["data"]["id"]
    result = job_result(job_id)
    if result["status"] != 200:
        sys.exit(f"seed: creating an upload from {fixture} failed: {result}")
    return result["payload"]["data"], job_id


# A webhook for upload creates, pointed at a closed local port and without retries: each seeded
# upload leaves a failed call in the log for the webhook_calls operations.
webhook = call("POST", "/webhooks", {"data": {"type": "webhook", "attributes": {
    "name": "Seed", "url": "http://127.0.0.1:9/seed", "auto_retry": False,
    "events": [{"entity_type": "upload", "event_types": ["create"]}]}}})["data"]
collection = call("POST", "/upload-collections", {"data": {"type": "upload_collection", "attributes": {"label": "Seed"}}})["data"]
uploads, jobs = [], []
for fixture in ["cat.jpg", "dog.jpg", "cat.png"]:
    upload, job_id = create_upload(fixture, collection["id"], ["seed", fixture.split(".")[0]])
    uploads.append(upload)
    jobs.append(job_id)
upload_filter = call("POST", "/upload-filters", {"data": {"type": "upload_filter", "attributes": {
    "name": "Seed", "filter": {"type": "image"}, "shared": True}}})["data"]
call("POST", "/upload-tags", {"data": {"type": "upload_tag", "attributes": {"name": "seeded"}}})

# Completed upload requests nothing uses yet: POST /uploads can really create from them.
with open("tests/fixtures/cat.png", "rb") as file:
    png = file.read()
fresh_paths = []
for _ in range(3):
    request = upload_request("fresh.png")
    put_file(request["attributes"]["url"], png)
    fresh_paths.append(request["id"])

webhook_calls = call("GET", "/webhook_calls")["data"]

spare = upload_request("spare.bin")
spare_url = urllib.parse.urlsplit(spare["attributes"]["url"])
_, _, project, file_part = spare_url.path.split("/", 3)
spare_query = dict(urllib.parse.parse_qsl(spare_url.query))

files = [upload["attributes"]["path"].split("/", 2)[2] for upload in uploads]


def toml_list(values):
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def binding(operation_ids, parameters):
    table = ", ".join(f'"{name}" = {value}' for name, value in parameters.items())
    return f"[[operations]]\ninclude-operation-id = {toml_list(operation_ids)}\nparameters = {{ {table} }}\n"


def dictionary(name, probability):
    return f'{{ dictionary = "{name}", probability = {probability} }}'


with open(CONFIG, "w") as config:
    config.write(f"""# Written by scripts/schemathesis-seed.py for one run.
# No state kept between runs (and nothing written into the checkout).
[cache]
enabled = false

[dictionaries.upload_ids]
values = {toml_list([u["id"] for u in uploads[:2]])}
[dictionaries.doomed_upload_ids]
values = {toml_list([uploads[2]["id"]])}
[dictionaries.collection_ids]
values = {toml_list([collection["id"]])}
[dictionaries.filter_ids]
values = {toml_list([upload_filter["id"]])}
[dictionaries.job_ids]
values = {toml_list(jobs)}
[dictionaries.fresh_paths]
values = {toml_list(fresh_paths)}
[dictionaries.files]
values = {toml_list(files)}
[dictionaries.webhook_ids]
values = {toml_list([webhook["id"]])}
[dictionaries.webhook_call_ids]
values = {toml_list([c["id"] for c in webhook_calls])}

""")
    config.write(binding(["show_upload", "update_upload", "list_upload_references"], {"path.id": dictionary("upload_ids", 0.6)}))
    config.write(binding(["create_upload"], {"body.data.attributes.path": dictionary("fresh_paths", 0.5)}))
    config.write(binding(["destroy_upload"], {"path.id": dictionary("doomed_upload_ids", 0.2)}))
    config.write(binding(["show_collection", "update_collection"], {"path.id": dictionary("collection_ids", 0.6)}))
    config.write(binding(["show_upload_filter", "update_upload_filter"], {"path.id": dictionary("filter_ids", 0.6)}))
    config.write(binding(["show_job_result"], {"path.id": dictionary("job_ids", 0.6)}))
    config.write(binding(["serve_asset"], {"path.file": dictionary("files", 0.8)}))
    config.write(binding(["show_webhook", "update_webhook"], {"path.id": dictionary("webhook_ids", 0.6)}))
    config.write(binding(["show_webhook_call", "resend_webhook_call"], {"path.id": dictionary("webhook_call_ids", 0.6)}))
    # The direct PUT: a valid signed URL, so that the body (random bytes) is what varies.
    config.write(binding(["put_file"], {
        "path.project": json.dumps(project), "path.file": json.dumps(file_part),
        "query.expires": int(spare_query["expires"]), "query.sig": json.dumps(spare_query["sig"]),
    }))

print(f"seed: {len(uploads)} uploads, collection {collection['id']}, filter {upload_filter['id']}, spare PUT {spare['id']}")
