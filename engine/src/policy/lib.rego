# vouch's helper library, loaded with every policy: `import data.vouch.lib`.
package vouch.lib

# glob_match(pattern, value): `*` matches within one path segment, `**` across
# segments, `?` one character, `{a,b}` alternatives, `[a-z]` classes — the semantics of
# gitignore-style path globs (and of globset with literal separators).
glob_match(pattern, value) if glob.match(pattern, ["/"], value)

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
