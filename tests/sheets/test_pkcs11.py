"""Signing with a key that never leaves a PKCS#11 token (SoftHSM2 in a temp dir)."""
import pytest

from pades import PKCS11Signer, SigningError, sign
from pades.layout import CLASS_TEACHER_FIELD, DIRECTOR_FIELD
from tests.sheets.helpers import assert_all_valid


def test_director_signs_with_a_token_key(blank, teacher, pki, softhsm_token):
    token = PKCS11Signer(softhsm_token["module"], softhsm_token["label"], softhsm_token["pin"],
                         key_label=softhsm_token["key_label"], other_certs=[pki.interm])
    assert token.certificate.subject.native["common_name"] == "Сафин Ринат Ильдарович"
    signed = sign(blank, CLASS_TEACHER_FIELD, teacher, certify=True)
    signed = sign(signed, DIRECTOR_FIELD, token, timestamper_url=pki.tsa_url,
                  validation_context=pki.validation_context(), embed_validation_info=True)
    teacher_r, director_r = assert_all_valid(signed, pki, count=2)
    assert director_r.signer_cn == "Сафин Ринат Ильдарович" and director_r.timestamp_ok
    assert softhsm_token["pin"] not in repr(token)


def test_wrong_pin_and_missing_key_are_russian_errors(blank, softhsm_token):
    bad_pin = PKCS11Signer(softhsm_token["module"], softhsm_token["label"], "0000", key_label="director")
    with pytest.raises(SigningError, match="Неверный PIN-код"):
        sign(blank, CLASS_TEACHER_FIELD, bad_pin, certify=True)
    no_key = PKCS11Signer(softhsm_token["module"], softhsm_token["label"], softhsm_token["pin"], key_label="нет")
    with pytest.raises(SigningError, match="нет указанного ключа"):
        sign(blank, CLASS_TEACHER_FIELD, no_key, certify=True)
    no_token = PKCS11Signer(softhsm_token["module"], "no-such-token", softhsm_token["pin"], key_label="director")
    with pytest.raises(SigningError, match="недоступен"):
        sign(blank, CLASS_TEACHER_FIELD, no_token, certify=True)
