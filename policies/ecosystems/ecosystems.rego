# Packages from npm and PyPI: which must have provenance, who may publish them.
#
#   config:
#     ecosystems:
#       provenance:
#         required: ["@acme/*"]             # these need provenance from their publisher;
#                                           #   [] : the registry's signature suffices
#         exceptions:                       # allowed without provenance, with a reason
#           - {package: "@acme/legacy", version: "0.1.0", reason: "ACME-42"}
#         allow_dropped: false              # default: a version that lost the provenance
#                                           #   earlier versions had is denied
#       publishers:                         # who may publish which packages
#         - packages: ["@acme/*"]
#           gitlab: {projects: [acme/*], refs: {branches: [main], tags: ["v*"]}}
#         - packages: [sigstore]
#           github: {repositories: [sigstore/sigstore-js], refs: {branches: [main]}}
#
# vouch itself checks what the registry signs (npm's registry signature, every
# attestation bound to the package's digest and name, PyPI's Trusted Publisher); this
# package decides which signers count. `accepted`: the registry's own signatures, and
# provenance whose signer is a publisher listed for the package; provenance of a package
# no publisher lists counts for nothing (PyPI signs nothing itself: list its
# publishers). Subjects that are not packages are denied: this package cannot judge
# their signers.
#
# Package patterns are globs over the whole name (`*` crosses the `/` of a scoped name),
# matched against the package's name, the name a lockfile installs it as, and
# `ECOSYSTEM:NAME` (`npm:@acme/*`, `pypi:acme-*`); PyPI names compare normalized
# (PEP 503: `Zope.Interface` is `zope-interface`).
package vouch.ecosystems

import data.vouch.lib

cfg := data.config.ecosystems

pkg := input.subject.package

provenance_types := {
	"https://slsa.dev/provenance/v1",
	"https://slsa.dev/provenance/v0.2",
	"https://docs.pypi.org/attestations/publish/v1",
}

# The names a pattern may match.
plain_names contains pkg.name

plain_names contains pkg.installed_as

names contains n if some n in plain_names

names contains sprintf("%s:%s", [pkg.ecosystem, n]) if some n in plain_names

normalized(p) := p if pkg.ecosystem != "pypi"

normalized(p) := lower(regex.replace(p, `[-_.]+`, "-")) if pkg.ecosystem == "pypi"

# name_match(patterns): one of the patterns matches one of the package's names.
name_match(patterns) if {
	some p in patterns
	some n in names
	# A delimiter no package name has: an empty list would mean ".", and `*` would stop
	# at the dot of lodash.merge.
	glob.match(normalized(p), ["\n"], n)
}

# The publishers listed for this package.
publishers contains p if {
	some p in object.get(cfg, "publishers", [])
	name_match(p.packages)
}

# A registry's own signature (npm's dist.signatures, its publish attestation).
registry_signed(s) if s.kind == "registry"

registry_signed(s) if s.registry_keyid

publisher_signed(s, p) if {
	g := s.claims.gitlab
	g.instance in object.get(p.gitlab, "instances", ["https://gitlab.com"])
	lib.any_glob_match(p.gitlab.projects, g.project_path)
	g.ci_config_project_path == g.project_path
	ref_ok(p.gitlab, g)
}

publisher_signed(s, p) if {
	g := s.claims.github
	g.host in object.get(p.github, "hosts", ["github.com"])
	lib.any_glob_match(p.github.repositories, g.repository)
	g.workflow_repository == g.repository
	lib.any_glob_match(object.get(p.github, "workflows", ["**"]), g.workflow_path)
	ref_ok(p.github, g)
}

ref_ok(rule, _) if rule.any_ref == true

ref_ok(rule, g) if lib.ref_allowed(rule.refs, g.ref_type, g.ref_name)

accepted contains i if {
	cfg
	pkg
	some i, s in input.signatures
	registry_signed(s)
}

accepted contains i if {
	cfg
	pkg
	some i, s in input.signatures
	s.claims
	some p in publishers
	publisher_signed(s, p)
}

# Provenance that counts: from an accepted signer.
provenance contains a if {
	some a in input.attestations
	a.signer_accepted == true
	a.claims
	a.predicate_type in provenance_types
}

# The exceptions that cover this version: by the package's own name only, never the
# name a lockfile installs it as (an alias must not borrow another package's exception).
exceptions contains e if {
	some e in object.get(cfg.provenance, "exceptions", [])
	own_name_match(e.package)
	object.get(e, "version", pkg.version) == pkg.version
}

own_name_match(p) if {
	some n in {pkg.name, sprintf("%s:%s", [pkg.ecosystem, pkg.name])}
	glob.match(normalized(p), ["\n"], n)
}

excepted if count(exceptions) > 0

required if name_match(cfg.provenance.required)

deny contains {"msg": msg, "code": "ecosystems.not_a_package", "title": "Not a package", "solution": "judge images and files with config.gitlab or config.github, or load this package only for package subjects"} if {
	cfg
	not pkg
	msg := sprintf("%s is a %s, not a package: config.ecosystems judges npm and PyPI packages only", [input.subject.name, input.subject.kind])
}

deny contains {"msg": msg, "code": "ecosystems.publisher", "title": "Provenance from a publisher not allowed", "solution": "publish from a project listed in config.ecosystems.publishers, or list it"} if {
	cfg
	count(publishers) > 0
	some s in input.signatures
	s.claims
	not registry_signed(s)
	not publisher_signed_any(s)
	msg := sprintf("%s was built and signed by %s, which is not a publisher allowed for it", [pkg.name, lib.signer(s)])
}

publisher_signed_any(s) if {
	some p in publishers
	publisher_signed(s, p)
}

deny contains {"msg": msg, "code": "ecosystems.provenance_missing", "title": "Package without provenance", "solution": "publish it from CI with provenance (npm publish --provenance, PyPI Trusted Publishing), or add an exception with its reason"} if {
	cfg
	required
	not excepted
	count(provenance) == 0
	msg := sprintf("%s@%s has no provenance from an allowed publisher (config.ecosystems.provenance.required: %s)", [pkg.name, pkg.version, concat(", ", cfg.provenance.required)])
}

deny contains {"msg": msg, "code": "ecosystems.provenance_dropped", "title": "Provenance disappeared", "solution": "find out why this version was published without provenance (a token leak publishes from a laptop); allow it with an exception or allow_dropped"} if {
	cfg
	pkg.provenance_before
	not excepted
	not cfg.provenance.allow_dropped == true
	count(provenance) == 0
	msg := sprintf("%s@%s has no provenance, but %s had", [pkg.name, pkg.version, pkg.provenance_before])
}

# A package that needs provenance with no publisher listed for it: nobody could pass it,
# and "any signer" must be said, not implied.
deny contains {"msg": msg, "code": "ecosystems.config", "title": "No publisher listed", "solution": "list the package's publisher in config.ecosystems.publishers"} if {
	cfg
	required
	not excepted
	count(publishers) == 0
	msg := sprintf("%s needs provenance (config.ecosystems.provenance.required), but no publisher is listed for it", [pkg.name])
}

# An exception that was used: what it let through, and why.
warn contains {"msg": msg, "code": "ecosystems.exception", "title": "Package allowed without provenance"} if {
	cfg
	needs_provenance
	count(provenance) == 0
	some e in exceptions
	msg := sprintf("%s@%s has no provenance; allowed: %s", [pkg.name, pkg.version, e.reason])
}

needs_provenance if required

needs_provenance if {
	pkg.provenance_before
	not cfg.provenance.allow_dropped == true
}

# Provenance, and nothing else, from a signer nobody listed: say what to list.
deny contains {"msg": msg, "code": "ecosystems.unlisted_publisher", "title": "No publisher listed for the package", "solution": "list the package's publisher in config.ecosystems.publishers"} if {
	cfg
	count(publishers) == 0
	count(accepted) == 0
	some s in input.signatures
	s.claims
	msg := sprintf("%s is signed only by %s, and no publisher is listed for it in config.ecosystems.publishers", [pkg.name, lib.signer(s)])
}
