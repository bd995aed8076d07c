"""Drives the Users API through the Python client OpenAPI Generator made
from openapi/users.yaml, against a running server. Run by `cargo xtask
interop`; reads USERS_URL, USERS_TOKEN (users:admin), USERS_OTHER_TOKEN
(users:admin of another account) and USERS_AVATAR_PNG (a PNG image). Any failed call or check ends it with a
traceback and a non-zero status."""

import datetime
import json
import os
import uuid

import users_api_client as sdk
from users_api_client.exceptions import ApiException

config = sdk.Configuration(host=os.environ["USERS_URL"], access_token=os.environ["USERS_TOKEN"])
client = sdk.ApiClient(config)
users = sdk.UsersApi(client)
lookups = sdk.LookupsApi(client)
groups = sdk.GroupsApi(client)
checks = []


def check(what, condition, detail=""):
    if not condition:
        raise AssertionError(f"{what}: {detail}")
    checks.append(what)


def attributes(values):
    """Custom attribute values as plain JSON: the client reads each as the
    CustomAttributeValue it was written as."""
    return {key: value.actual_instance for key, value in (values or {}).items()}


def header(response, name):
    """A response header, whatever case the client keeps its name in."""
    headers = response.headers or {}
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    raise AssertionError(f"no {name} header in {dict(headers)}")


def problem_of(error, status, code):
    """The problem body the client surfaced with `error`."""
    check(f"{code}: status", error.status == status, f"{error.status} {error.body}")
    body = error.data if error.data is not None else sdk.Problem.from_json(error.body)
    check(f"{code}: a Problem", isinstance(body, sdk.Problem), repr(body))
    check(f"{code}: code", body.code == code, repr(body))
    check(f"{code}: problem+json", "application/problem+json" in header(error, "Content-Type"))
    return body


def expect_error(call, status, code):
    try:
        call()
    except ApiException as error:
        return problem_of(error, status, code)
    raise AssertionError(f"expected {status} {code}")


def new_user(n, **extra):
    return sdk.UserCreate(
        name=sdk.NameInput(first_name="Ada", last_name=f"Lovelace{n}"),
        email=f"ada{n}-{uuid.uuid4().hex[:8]}@example.com",
        **extra,
    )


# Lookups feed the pickers; their codes are the spec's enums.
zones = lookups.list_time_zones()
check("lookups", any(entry.code == "America/New_York" for entry in zones.items))

# Create, with an idempotency key.
created = users.create_user_with_http_info(
    new_user(
        0,
        time_zone="America/New_York",
        locale="en-us",
        address=sdk.AddressInput(country_code="US", state="MA", city="Boston", zip_code="02101"),
        custom_attributes={"costCenter": sdk.CustomAttributeValue("CC-12"), "seniority": sdk.CustomAttributeValue(3)},
    ),
    idempotency_key=str(uuid.uuid4()),
)
check("create: 201", created.status_code == 201, created.status_code)
user = created.data
check("create: Location", header(created, "Location").endswith(str(user.id)), created.headers)
check("create: custom attributes", attributes(user.custom_attributes) == {"costCenter": "CC-12", "seniority": 3}, user.custom_attributes)

# Get, then a conditional get that answers 304.
got = users.get_user_with_http_info(user.id)
etag = header(got, "ETag")
check("get: ETag", etag == f'"{user.resource_version}"', etag)
try:
    not_modified = users.get_user_with_http_info(user.id, if_none_match=etag)
    status = not_modified.status_code
except ApiException as error:
    status = error.status
check("get: 304 with If-None-Match", status == 304, status)

# List across pages.
for n in range(1, 5):
    users.create_user(new_user(n))
seen, cursor, pages = [], None, 0
while True:
    page = users.list_users(limit=2, cursor=cursor)
    pages += 1
    seen.extend(u.id for u in page.items)
    cursor = page.next_cursor
    if not cursor:
        break
check("list: pages", pages >= 3, pages)
check("list: every user once", len(seen) == len(set(seen)) == 5, seen)

# PATCH that sets and clears members, custom attributes included.
patched = users.update_user(
    user.id,
    sdk.UserPatch(
        job_title="CTO",
        phone=None,
        time_zone=None,
        address=sdk.AddressPatch(city="Cambridge"),
        custom_attributes={
            "costCenter": sdk.CustomAttributesPatchValue("CC-14"),
            "seniority": None,
        },
    ),
    if_match=etag,
)
check("patch: set", patched.job_title == "CTO", patched)
check("patch: cleared", patched.phone is None and patched.time_zone is None, patched)
check("patch: partial address", patched.address.city == "Cambridge" and patched.address.state == "MA", patched.address)
check("patch: attribute set and removed", attributes(patched.custom_attributes) == {"costCenter": "CC-14"}, patched.custom_attributes)
cleared = users.update_user(user.id, sdk.UserPatch(custom_attributes=None))
check("patch: every attribute removed", not cleared.custom_attributes, cleared.custom_attributes)

# 412: a stale If-Match changes nothing.
problem = expect_error(lambda: users.update_user(user.id, sdk.UserPatch(job_title="CEO"), if_match=etag), 412, "concurrency-violation")
check("412: detail", bool(problem.detail), problem)

# PUT replaces the whole profile.
current = users.get_user_with_http_info(user.id)
replaced = users.replace_user(
    user.id,
    sdk.UserReplace(name=sdk.NameInput(first_name="Ada", last_name="King"), email=user.email, time_zone="Europe/London"),
    if_match=header(current, "ETag"),
)
check("put: replaced", replaced.name.last_name == "King" and replaced.job_title is None, replaced)

# Password.
current = users.get_user_with_http_info(user.id)
users.set_user_password(user.id, sdk.PasswordChange(new_password="correct horse battery staple"), if_match=header(current, "ETag"))
check("password: set", users.get_user(user.id).has_password is True)

# 400: a rule the client cannot check locally (a date of birth in the future).
future = datetime.date.today() + datetime.timedelta(days=30)
problem = expect_error(lambda: users.create_user(new_user(9, date_of_birth=future)), 400, "validation-failed")
check("400: field", [e.to_dict()["field"] for e in problem.errors] == ["dateOfBirth"], problem)

# 404: another account's user is not found.
other = sdk.UsersApi(sdk.ApiClient(sdk.Configuration(host=config.host, access_token=os.environ["USERS_OTHER_TOKEN"])))
expect_error(lambda: other.get_user(user.id), 404, "not-found")

# Groups: a create with a member, the member filter, a conditional read,
# members added and removed, a user's groups, a delete.
mate = users.create_user(new_user(20))
made = groups.create_group_with_http_info(
    sdk.GroupCreate(name=f"Operations {uuid.uuid4().hex[:8]}", members=[user.id]),
    idempotency_key=str(uuid.uuid4()),
)
check("groups: 201", made.status_code == 201, made.status_code)
group = made.data
check("groups: Location", header(made, "Location").endswith(str(group.id)), made.headers)
check("groups: members", [str(m) for m in group.members] == [str(user.id)], group)
listed = groups.list_groups(member=user.id)
check("groups: member filter", [g.id for g in listed.items] == [group.id], listed)
got = groups.get_group_with_http_info(group.id)
try:
    status = groups.get_group_with_http_info(group.id, if_none_match=header(got, "ETag")).status_code
except ApiException as error:
    status = error.status
check("groups: 304 with If-None-Match", status == 304, status)
changed = groups.update_group(
    group.id, sdk.GroupPatch(add_members=[mate.id], remove_members=[user.id]), if_match=header(got, "ETag")
)
check("groups: add and remove", [str(m) for m in changed.members] == [str(mate.id)], changed)
theirs = groups.list_user_groups(mate.id)
check("groups: a user's groups", [g.id for g in theirs.items] == [group.id], theirs)
expect_error(lambda: groups.update_group(group.id, sdk.GroupPatch(add_members=[uuid.uuid4()])), 400, "validation-failed")
current = groups.get_group_with_http_info(group.id)
deleted = groups.delete_group_with_http_info(group.id, if_match=header(current, "ETag"))
check("groups: delete 204", deleted.status_code == 204, deleted.status_code)
expect_error(lambda: groups.get_group(group.id), 404, "not-found")

# A profile image: uploaded as PNG bytes, read back byte for byte in its
# type; bytes that are no image are a 415 problem.
png = open(os.environ["USERS_AVATAR_PNG"], "rb").read()
current = users.get_user_with_http_info(user.id)
stored = users.set_user_avatar_with_http_info(user.id, body=png, if_match=header(current, "ETag"), _content_type="image/png")
check("avatar: 204", stored.status_code == 204, stored.status_code)
check("avatar: hasAvatar", users.get_user(user.id).has_avatar is True)
image = users.get_user_avatar_with_http_info(user.id)
check("avatar: the bytes back", bytes(image.data) == png, len(image.data))
check("avatar: its type", header(image, "Content-Type") == "image/png", image.headers)
expect_error(lambda: users.set_user_avatar(user.id, body=b"not an image", _content_type="image/png"), 415, "unsupported-media-type")
current = users.get_user_with_http_info(user.id)
users.delete_user_avatar(user.id, if_match=header(current, "ETag"))
expect_error(lambda: users.get_user_avatar(user.id), 404, "avatar-not-found")

# Delete.
current = users.get_user_with_http_info(user.id)
deleted = users.delete_user_with_http_info(user.id, if_match=header(current, "ETag"))
check("delete: 204", deleted.status_code == 204, deleted.status_code)
expect_error(lambda: users.get_user(user.id), 404, "not-found")

print(json.dumps({"checks": len(checks)}))
