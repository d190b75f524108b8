# Signing age window: the artifact must have been signed within the last N days of the
# effective time (--effective-time, default now), and not after it.
#
#   config:
#     signing_age:
#       max_days: 30
#       warn_days: 25        # optional: warn when older than this
#
# Only signatures whose signer was accepted (`signer_accepted`: identity requirements and
# the configured signer policies) count: a fresh signature from anyone else does not make
# an old artifact young.
package vouch.signing_age

import data.vouch.lib

cfg := data.config.signing_age

now := time.now_ns()

age_ns(s) := now - lib.ns(s.claims.signed_at)

# The signatures that count.
counted contains i if {
	some i, s in input.signatures
	s.signer_accepted == true
}

# Signatures without a verified signing time cannot show their age.
fresh contains i if {
	cfg.max_days
	some i in counted
	s := input.signatures[i]
	age_ns(s) >= 0
	age_ns(s) <= lib.days(cfg.max_days)
}

deny contains {"msg": msg, "code": "signing_age.too_old", "title": "Signed too long ago", "solution": "re-sign or rebuild the artifact"} if {
	cfg.max_days
	count(counted) > 0
	count(fresh) == 0
	some i in counted
	s := input.signatures[i]
	age_ns(s) > lib.days(cfg.max_days)
	msg := sprintf("signed at %s, more than %v days before %s", [s.claims.signed_at, cfg.max_days, input.context.effective_time])
}

deny contains {"msg": msg, "code": "signing_age.future", "title": "Signed after the effective time"} if {
	cfg.max_days
	count(counted) > 0
	count(fresh) == 0
	some i in counted
	s := input.signatures[i]
	age_ns(s) < 0
	msg := sprintf("signed at %s, after the effective time %s", [s.claims.signed_at, input.context.effective_time])
}

deny contains {"msg": "no signature has a verified signing time", "code": "signing_age.unknown"} if {
	cfg.max_days
	count(counted) > 0
	every i in counted {
		not input.signatures[i].claims.signed_at
	}
}

warn contains {"msg": msg, "code": "signing_age.ageing"} if {
	cfg.warn_days
	count(fresh) > 0
	every i in fresh {
		age_ns(input.signatures[i]) > lib.days(cfg.warn_days)
	}
	msg := sprintf("the newest signature is more than %v days old; it will pass until %v days", [cfg.warn_days, cfg.max_days])
}
