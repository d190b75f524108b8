# vouch's helper library, loaded with every policy: `import data.vouch.lib`.
package vouch.lib

# glob_match(pattern, value): `*` matches within one path segment, `**` across
# segments, `?` one character, `{a,b}` alternatives, `[a-z]` classes — the semantics of
# gitignore-style path globs (and of globset with literal separators).
# (Every definition runs on every call: each fails on its cheapest test first.)
glob_match(pattern, value) if {
	pattern == value
	not has_meta(pattern)
}

# The common `PREFIX*` (acme/*, v*, release/*) without the glob engine: each glob.match
# call costs several microseconds.
glob_match(pattern, value) if {
	endswith(pattern, "*")
	prefix := trim_suffix(pattern, "*")
	not has_meta(prefix)
	startswith(value, prefix)
	not contains(trim_prefix(value, prefix), "/")
}

# Any other pattern with a metacharacter: the glob engine. (Split in two so that no
# definition asks twice whether the same text has metacharacters.)
glob_match(pattern, value) if {
	not endswith(pattern, "*")
	has_meta(pattern)
	glob.match(pattern, ["/"], value)
}

glob_match(pattern, value) if {
	endswith(pattern, "*")
	has_meta(trim_suffix(pattern, "*"))
	glob.match(pattern, ["/"], value)
}

# Any of * ? [ { \ (one builtin call: a loop over the characters costs more).
has_meta(pattern) if strings.replace_n({"*": "", "?": "", "[": "", "{": "", "\\": ""}, pattern) != pattern

# any_glob_match(patterns, value): value matches at least one pattern.
any_glob_match(patterns, value) if {
	some pattern in patterns
	glob_match(pattern, value)
}

# ns(rfc3339): nanoseconds since the epoch.
ns(rfc3339) := time.parse_rfc3339_ns(rfc3339)

# days(n): n days in nanoseconds.
days(n) := n * 86400000000000

# semver_tag(ref_name): ref_name is a semantic version tag, with an optional leading v.
semver_tag(name) if semver.is_valid(trim_prefix(name, "v"))

# signer(signature): who signed, for messages.
signer(s) := sprintf("%s (issuer %s)", [s.claims.identity.value, s.claims.issuer]) if s.claims.identity.value

signer(s) := sprintf("key %s", [s.key_fingerprint_sha256]) if s.key_fingerprint_sha256

# ref_allowed(refs, ref_type, ref_name): a ref rule of the form
#   {branches: [globs], tags: [globs], semver_tags: bool}
ref_allowed(refs, "branch", name) if any_glob_match(refs.branches, name)

ref_allowed(refs, "tag", name) if {
	any_glob_match(object.get(refs, "tags", ["*"]), name)
	refs.tags
	not refs.semver_tags
}

ref_allowed(refs, "tag", name) if {
	refs.semver_tags
	any_glob_match(object.get(refs, "tags", ["*"]), name)
	semver_tag(name)
}

# refs_rule(refs): the rule in words.
refs_rule(refs) := concat("; ", [
	sprintf("branches: %s", [listed(object.get(refs, "branches", []))]),
	sprintf("tags: %s%s", [listed(object.get(refs, "tags", default_tags(refs))), semver_note(refs)]),
])

default_tags(refs) := ["*"] if refs.semver_tags

default_tags(refs) := [] if not refs.semver_tags

listed(items) := "none" if count(items) == 0

listed(items) := concat(", ", items) if count(items) > 0

semver_note(refs) := " (semantic versions)" if refs.semver_tags

semver_note(refs) := "" if not refs.semver_tags
