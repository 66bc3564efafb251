"""Who a signing certificate names: the person fields of a Russian qualified certificate.

Приказ ФСБ № 795 (the qualified certificate's form) puts the holder in the subject as SN (surname),
G (given name and patronymic, "Мария Петровна"), CN, and the identifiers СНИЛС (OID 1.2.643.100.3)
and ИНН (1.2.643.3.131.1.1; 1.2.643.100.4 is the organisation's ИНН). asn1crypto does not name those
OIDs; they are read here by their dotted form, nothing is registered.
"""
from dataclasses import dataclass

from asn1crypto import x509

SNILS_OID = "1.2.643.100.3"
INN_OID = "1.2.643.3.131.1.1"


@dataclass(frozen=True)
class CertifiedPerson:
    common_name: str
    surname: str
    given_names: str          # given name and patronymic, as in the G attribute
    snils: str | None
    inn: str | None

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.surname, self.given_names) if p) or self.common_name


def person(cert: x509.Certificate) -> CertifiedPerson:
    found: dict[str, str] = {}
    for rdn in cert.subject.chosen:
        for tv in rdn:
            value = tv["value"].native
            if isinstance(value, bytes):
                value = value.decode("utf-8", "replace")
            found.setdefault(tv["type"].dotted, str(value).strip())
    return CertifiedPerson(common_name=found.get("2.5.4.3", ""), surname=found.get("2.5.4.4", ""),
                           given_names=found.get("2.5.4.42", ""), snils=_digits(found.get(SNILS_OID)),
                           inn=_digits(found.get(INN_OID)))


def _digits(value: str | None) -> str | None:
    if not value:
        return None
    digits = "".join(ch for ch in value if ch.isdigit())
    return digits or None


def name_key(text: str) -> str:
    """Names compared as people read them: case, ё/е and spacing do not matter."""
    return " ".join(text.lower().replace("ё", "е").split())


def same_name(a: x509.Name, b: x509.Name) -> bool:
    """X.500 name equality, the same DER first: asn1crypto's `==` prepares every string of both names (RFC 4518,
    pure Python, ≈ 1.5 ms for a certificate's issuer), and a signer identifier's issuer is most often the
    certificate's own bytes."""
    return a.dump() == b.dump() or a == b


def signer_certificate(signed_data, signer_info=None):
    """The certificate a CMS SignedData's signer info (by default its first) names — by issuer and serial, or
    by subject key identifier — among the SignedData's own certificates; None if none is."""
    sid = (signer_info or signed_data["signer_infos"][0])["sid"]
    for choice in signed_data["certificates"] or []:
        cert = choice.chosen
        if sid.name == "issuer_and_serial_number":
            if cert.serial_number == sid.chosen["serial_number"].native and same_name(cert.issuer,
                                                                                        sid.chosen["issuer"]):
                return cert
        elif cert.key_identifier == sid.chosen.native:
            return cert
    return None
