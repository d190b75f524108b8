package vouch.signing_age_test

import data.vouch.fixtures as f
import data.vouch.signing_age

# 2026-01-20T12:00:00Z
now := 1768910400000000000

codes_at(sigs, t, config) := codes if {
	denials := signing_age.deny with input as f.input_of(sigs) with data.config.signing_age as config with time.now_ns as t
	codes := f.codes(denials)
}

signed_at(t) := f.claims_with({"signed_at": t})

test_recent_signature_passes if {
	codes_at([signed_at("2026-01-10T12:00:00Z")], now, {"max_days": 30}) == set()
}

test_old_signature_denied if {
	denials := signing_age.deny with input as f.input_of([signed_at("2025-11-01T00:00:00Z")]) with data.config.signing_age as {"max_days": 30} with time.now_ns as now
	f.codes(denials) == {"signing_age.too_old"}
	some d in denials
	contains(d.msg, "more than 30 days before 2026-01-20T12:00:00Z")
}

test_one_fresh_signature_suffices if {
	codes_at([signed_at("2025-11-01T00:00:00Z"), signed_at("2026-01-19T00:00:00Z")], now, {"max_days": 30}) == set()
}

test_signed_after_effective_time_denied if {
	codes_at([signed_at("2026-02-01T00:00:00Z")], now, {"max_days": 30}) == {"signing_age.future"}
}

test_unknown_signing_time_denied if {
	codes_at([f.key_sig], now, {"max_days": 30}) == {"signing_age.unknown"}
}

test_warns_when_ageing if {
	warnings := signing_age.warn with input as f.input_of([signed_at("2025-12-25T00:00:00Z")]) with data.config.signing_age as {"max_days": 30, "warn_days": 20} with time.now_ns as now
	f.codes(warnings) == {"signing_age.ageing"}
}

# A fresh signature from a signer nobody accepted does not make an old artifact young.
test_only_accepted_signers_count if {
	sigs := [signed_at("2025-11-01T00:00:00Z"), signed_at("2026-01-19T00:00:00Z")]
	denials := signing_age.deny with input as f.input_accepting(sigs, {0}) with data.config.signing_age as {"max_days": 30} with time.now_ns as now
	f.codes(denials) == {"signing_age.too_old"}
}
