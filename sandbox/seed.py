"""Deterministic seed people shared by the Marketo and Salesforce sandboxes.

Lead number ``i`` (1..N) is a pure function of ``(i, seed)``: nothing is stored per lead,
so an instance of a million leads costs no memory until a remote user changes something.
The same ``i`` gives the Marketo lead and its Salesforce Lead or Contact (and Account,
Opportunity), so both sandboxes describe one consistent world.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta
from functools import lru_cache

SEED_START = datetime(2023, 1, 1, tzinfo=UTC)
SEED_END = datetime(2026, 11, 1, tzinfo=UTC)

# (Salesforce User number, first name, last name, email). The demo sellers of `make run`
# are the first two, so their people show up as "mine".
OWNERS = [
    (1, "Ava", "Stone", "ava.stone@example.com"),
    (2, "Ben", "Okafor", "ben.okafor@example.com"),
    (3, "Chloé", "Dubois", "chloe.dubois@example.com"),
    (4, "Dmitri", "Volkov", "dmitri.volkov@example.com"),
    (5, "Emi", "Tanaka", "emi.tanaka@example.com"),
    (6, "Farah", "Haddad", "farah.haddad@example.com"),
    (7, "Gustavo", "Pereira", "gustavo.pereira@example.com"),
    (8, "Hannah", "Schmidt", "hannah.schmidt@example.com"),
]

FIRST_NAMES = [
    "Olivia", "Liam", "Emma", "Noah", "Amelia", "Oliver", "Sophia", "Elijah", "Mia", "James",
    "José", "Zoë", "Łukasz", "Søren", "Aoife", "Siobhán", "Renée", "François", "Jürgen", "Ingrid",
    "Mohammed", "Fatima", "Wei", "Mei", "Hiroshi", "Yuki", "Priya", "Arjun", "Ngozi", "Kwame",
    "Mateo", "Valentina", "Björn", "Agnieszka", "Dagný", "Ömer", "Elif", "Nadia", "Tomás", "Inés",
]
LAST_NAMES = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Müller", "Schröder", "Nowak", "Kowalski", "O'Brien", "Ní Bhriain", "Dupont",
    "Lefèvre", "García Márquez", "Andersson", "Nakamura", "山田", "李", "Patel", "Okonkwo",
    "Mensah", "Silva", "Santos", "Yılmaz", "Novák", "van der Berg", "De Luca", "Ivanova",
]
# Marketo data is untrusted: a few names look like markup and must render as text.
HTML_NAMES = ["<b>Bold</b>", "<script>alert('x')</script>", "<img src=x onerror=alert(1)>",
              "Tom & Jerry"]
COMPANIES = [
    "Acme Corp", "Globex", "Initech", "Umbrella Health", "Stark Industries", "Wayne Enterprises",
    "Müller & Söhne GmbH", "Société Générale d'Exemple", "株式会社サンプル", "Hooli", "Pied Piper",
    "Vandelay Industries", "Cyberdyne Systems", "Soylent", "Tyrell Corp", "Nakatomi Trading",
    "Oceanic Airlines", "Wonka Industries", "Gringotts", "Aperture Science", "Black Mesa",
    "Duff Beer", "Monsters, Inc.", "Paper Street Soap Co.", "AT&T <Labs>",
]
TITLES = [
    "VP Sales", "Head of Marketing", "CTO", "Chief Executive Officer", "Procurement Manager",
    "IT Director", "Operations Lead", "Data Engineer", "Account Executive", "CFO",
    "Directrice Commerciale", "Geschäftsführer",
]
SOURCES = ["Website", "Trade Show", "Webinar", "Partner Referral", "Paid Search", "List Import"]
EMAIL_DOMAINS = ["example.com", "example.org", "example.net", "mail.example.co.uk"]

_MASK = (1 << 64) - 1
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_BASE62_PAIRS = [a + b for a in _BASE62 for b in _BASE62]
# Base-62 character -> "1" for an upper-case letter, else "0": a chunk's suffix bits as a string.
_UPPER_BITS = str.maketrans({c: "1" if c.isupper() else "0" for c in _BASE62})

SF_PREFIX = {"Account": "001", "Contact": "003", "Opportunity": "006", "User": "005",
             "Lead": "00Q", "Task": "00T"}
_LEAD, _CONTACT, _OPPORTUNITY = SF_PREFIX["Lead"], SF_PREFIX["Contact"], SF_PREFIX["Opportunity"]


def _mix(x: int) -> int:
    """splitmix64: a fast, well-spread 64-bit hash."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def sf_id(prefix: str, number: int) -> str:
    """An 18-character Salesforce id (with the real case-safe suffix) for a record number."""
    # Base 62 two digits at a time; the leading digit must stay below 62 (9 digits in all).
    rest, d4 = divmod(number, 3844)
    rest, d3 = divmod(rest, 3844)
    rest, d2 = divmod(rest, 3844)
    rest, d1 = divmod(rest, 3844)
    body = "" if rest >= 62 else (prefix + "000" + _BASE62[rest] + _BASE62_PAIRS[d1]
                                  + _BASE62_PAIRS[d2] + _BASE62_PAIRS[d3] + _BASE62_PAIRS[d4])
    if len(body) != 15:
        raise ValueError(f"record number {number} too large for an id")
    # Same result as sf_id_suffix(body), faster: the body holds only base-62 characters.
    return (body + _SUFFIX_CHARS[int(body[4::-1].translate(_UPPER_BITS), 2)]
            + _SUFFIX_CHARS[int(body[9:4:-1].translate(_UPPER_BITS), 2)]
            + _SUFFIX_CHARS[int(body[:9:-1].translate(_UPPER_BITS), 2)])


def sf_id_suffix(id15: str) -> str:
    """The three check characters that turn a 15-character id into its 18-character form."""
    suffix = ""
    for chunk in range(3):
        bits = 0
        for position, char in enumerate(id15[chunk * 5:chunk * 5 + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << position
        suffix += _SUFFIX_CHARS[bits]
    return suffix


def sf_number(record_id: str) -> tuple[str, int]:
    """Inverse of :func:`sf_id`: (prefix, record number). Raises ValueError if malformed."""
    if len(record_id) == 18:
        if sf_id_suffix(record_id[:15]) != record_id[15:]:
            raise ValueError(f"malformed id {record_id!r}")
        record_id = record_id[:15]
    if len(record_id) != 15:
        raise ValueError(f"malformed id {record_id!r}")
    number = 0
    for char in record_id[6:]:
        index = _BASE62.find(char)
        if index < 0:
            raise ValueError(f"malformed id {record_id!r}")
        number = number * 62 + index
    return record_id[:3], number


@lru_cache(maxsize=64)
def owner_user_id(owner_number: int) -> str:
    return sf_id(SF_PREFIX["User"], owner_number)


@lru_cache(maxsize=1024)
def _ascii_slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = "".join(c for c in plain.lower() if c.isalnum())
    return slug or "x"


# Lookups for the per-lead hot path: every name's slug, every phone number.
_SLUGS = {name: _ascii_slug(name) for name in FIRST_NAMES + LAST_NAMES + HTML_NAMES}
_PHONES = [f"+1 415-555-{n:04d}" for n in range(10000)]


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SEED_START_TS = int((SEED_START - _EPOCH).total_seconds())
_SEED_END_TS = int((SEED_END - _EPOCH).total_seconds())
_SEED_SPAN = (SEED_END - SEED_START).total_seconds()


@lru_cache(maxsize=4096)
def _iso_day(day: int) -> str:
    return iso(_EPOCH + timedelta(days=day))[:10]


# "THH:MM:" for each minute of the day and "SSZ" for each second: iso() by lookup.
_ISO_MINUTES = [f"T{m // 60:02d}:{m % 60:02d}:" for m in range(1440)]
_ISO_SECONDS = [f"{s:02d}Z" for s in range(60)]


def _iso_ts(ts: int) -> str:
    """``iso()`` of a UTC epoch second, without building a datetime (the bulk export hot path)."""
    day, second = divmod(ts, 86400)
    return _iso_day(day) + _ISO_MINUTES[second // 60] + _ISO_SECONDS[second % 60]


def created_at(i: int, total: int) -> datetime:
    """Leads are created evenly from SEED_START to SEED_END, in id order."""
    span = (SEED_END - SEED_START).total_seconds()
    return SEED_START + timedelta(seconds=int(span * (i - 1) / max(total, 1)))


def _email(i: int, seed: int) -> str | None:
    return _email_of(i, _mix(seed * 0x1000003 + i))


def _email_of(i: int, h: int) -> str | None:
    """Lead ``i``'s own email, from its hash ``h``."""
    if i % 211 == 0:
        return None
    first = _SLUGS[FIRST_NAMES[(h >> 8) % len(FIRST_NAMES)]]
    last = _SLUGS[LAST_NAMES[(h >> 16) % len(LAST_NAMES)]]
    domain = EMAIL_DOMAINS[(h >> 40) % len(EMAIL_DOMAINS)]
    if i % 233 == 0:
        return f"{first}.{last}{i}-at-{domain}"  # invalid on purpose
    return f"{first}.{last}{i}@{domain}"


def lead(i: int, seed: int = 1, total: int = 2000) -> dict:
    """Marketo lead number ``i`` as Marketo's REST API names its fields.

    Roughly: 80% have a sales owner; of those 5% have no Salesforce record, the rest are split
    between Contacts (with an Account, 40% with an Opportunity) and Leads. Every 50th lead
    shares its email with the lead before it; 3% are unsubscribed; some fields are missing.
    """
    h = _mix(seed * 0x1000003 + i)
    h2 = _mix(h)
    first = FIRST_NAMES[(h >> 8) % len(FIRST_NAMES)]
    last = LAST_NAMES[(h >> 16) % len(LAST_NAMES)]
    if i % 97 == 0:
        first = HTML_NAMES[(i // 97) % len(HTML_NAMES)]
    company_number = (h >> 24) % len(COMPANIES) + 1
    email = _email(i - 1, seed) if i % 50 == 0 and i > 1 else _email_of(i, h)
    # created_at() and its timedelta arithmetic, in integer epoch seconds (same values).
    created = _SEED_START_TS + int(_SEED_SPAN * (i - 1) / max(total, 1))
    updated = min(created + int(h2 % 400) * 86400 + int(h2 >> 50) % 86400, _SEED_END_TS)

    owned = (h2 >> 8) % 10 < 8
    owner = OWNERS[(h2 >> 12) % len(OWNERS)] if owned else None
    kind = (h2 >> 20) % 20 if owned else 0  # 0: no Salesforce record
    is_contact = 1 <= kind <= 10
    is_lead = kind >= 11
    has_opportunity = is_contact and (h2 >> 28) % 5 < 2

    return {
        "id": i,
        "firstName": first,
        "lastName": None if i % 401 == 0 else last,
        "email": email,
        "company": COMPANIES[company_number - 1],
        "title": None if i % 13 == 0 else TITLES[(h >> 32) % len(TITLES)],
        "phone": None if i % 17 == 0 else _PHONES[(h >> 44) % 10000],
        "linkedInProfileURL": None if i % 7 == 0 else
        f"https://www.linkedin.com/in/{_SLUGS[first]}-{_SLUGS[last]}-{i}",
        "leadSource": SOURCES[(h >> 52) % len(SOURCES)],
        "sfdcLeadId": sf_id(_LEAD, i) if is_lead else None,
        "sfdcContactId": sf_id(_CONTACT, i) if is_contact else None,
        "sfdcAccountId": _account_id(company_number) if is_contact else None,
        "sfdcOpptyId": sf_id(_OPPORTUNITY, i) if has_opportunity else None,
        "sfdcLeadOwnerId": owner_user_id(owner[0]) if owner else None,
        "leadOwnerEmailAddress": owner[3] if owner else None,
        "leadOwnerFirstName": owner[1] if owner else None,
        "leadOwnerLastName": owner[2] if owner else None,
        "unsubscribed": (h2 >> 36) % 100 < 3,
        "createdAt": _iso_ts(created),
        "updatedAt": _iso_ts(updated),
    }


@lru_cache(maxsize=64)
def _account_id(company_number: int) -> str:
    return sf_id(SF_PREFIX["Account"], company_number)


def company_account(company_number: int) -> dict:
    """The Salesforce Account of a seed company (1-based, see COMPANIES)."""
    return {"Id": _account_id(company_number),
            "Name": COMPANIES[company_number - 1]}


def custom_checkbox_seeded(i: int, name: str, seed: int, percent: int) -> bool:
    """Whether seed person ``i``'s custom checkbox ``name`` (e.g. an opt-out) is ticked: about
    ``percent`` in a hundred are, independently of the other fields."""
    salt = sum(name.encode()) * 0x9E37
    return percent > 0 and _mix(seed * 0x2000003 + i * 131 + salt) % 100 < percent
