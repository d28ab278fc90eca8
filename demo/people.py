"""The pool of fictitious requesters: one integer per person, everything else derived from it.

A person's audience, phone number, mail address and names depend on their index only (not on
the seed nor the scale), so runs with other seeds or scales reuse the same requester rows.

Phone numbers: the first 60,000 persons get numbers from the blocks that ARCEP reserves for
fiction (01 99 00, 02 61 91, 03 53 01, 04 65 71, 05 36 49, 06 39 98, then four digits), so a
demo callback can never ring a real person; larger pools (scale > ~8) continue with 01 9x xx
xx xx numbers, which are not guaranteed unallocated. Mail addresses use the reserved
``.example`` top-level domain, so no reply can reach anybody.
"""

from __future__ import annotations

import math
import unicodedata
from random import Random

#: Residues (index mod 100) per audience: the pool is about 24 % lawyers, 9 % administrations,
#: 67 % citizens (citizens rarely call twice; professionals often).
_RESIDUES = {
    "avocat": list(range(0, 24)),
    "administration": list(range(24, 33)),
    "citoyen": list(range(33, 100)),
}
_AUDIENCE_OF_RESIDUE = {r: a for a, rs in _RESIDUES.items() for r in rs}

#: Persons per audience at scale 1, and how concentrated their calls are (higher: a few call
#: often). Chosen so that about a third of a year's contacts come from a repeat requester.
POOL_AT_SCALE_1 = {"avocat": 1800, "administration": 700, "citoyen": 5000}
CONCENTRATION = {"avocat": 2.0, "administration": 2.0, "citoyen": 1.2}

_FICTION_BLOCKS = ("19900", "26191", "35301", "46571", "53649", "63998")
_FICTION_SIZE = 10_000 * len(_FICTION_BLOCKS)

FIRST_NAMES = (
    "Camille", "Léa", "Manon", "Chloé", "Emma", "Inès", "Sarah", "Julie", "Claire", "Anne",
    "Marie", "Sophie", "Isabelle", "Nathalie", "Hélène", "Céline", "Aurélie", "Lucie", "Élodie",
    "Valérie", "Thomas", "Nicolas", "Julien", "Antoine", "Pierre", "Maxime", "Alexandre", "Hugo",
    "Lucas", "Louis", "Paul", "François", "Philippe", "Laurent", "Olivier", "Éric", "Stéphane",
    "Sébastien", "Mathieu", "Karim", "Mehdi", "Yasmine", "Fatou", "Nadia", "Jean", "Michel",
)
LAST_NAMES = (
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
    "Moreau", "Simon", "Laurent", "Lefebvre", "Michel", "Garcia", "David", "Bertrand", "Roux",
    "Vincent", "Fournier", "Morel", "Girard", "André", "Lefèvre", "Mercier", "Dupont", "Lambert",
    "Bonnet", "François", "Martinez", "Legrand", "Garnier", "Faure", "Rousseau", "Blanc",
    "Guérin", "Muller", "Henry", "Roussel", "Nicolas", "Perrin", "Morin", "Mathieu", "Clément",
    "Gauthier", "Dumont", "Lopez", "Fontaine", "Chevalier", "Robin", "Masson", "Sanchez",
    "Gérard", "Nguyen", "Boyer", "Denis", "Lemaire", "Duval", "Joly", "Benali",
)
PLACES = (
    "Lyon", "Marseille", "Toulouse", "Nantes", "Bordeaux", "Lille", "Rennes", "Strasbourg",
    "Montpellier", "Grenoble", "Dijon", "Rouen", "Nancy", "Orléans", "Clermont-Ferrand",
    "Limoges", "Poitiers", "Amiens", "Caen", "Besançon", "Nîmes", "Pau", "Versailles", "Melun",
)
ADMIN_KINDS = (
    "Préfecture de {}", "Commune de {}", "Centre hospitalier de {}", "Rectorat de {}",
    "Direction départementale des territoires de {}", "Caisse d'allocations familiales de {}",
    "Office public de l'habitat de {}", "Université de {}",
)


def audience_of(index: int) -> str:
    return _AUDIENCE_OF_RESIDUE[index % 100]


def pool_size(audience: str, scale: float) -> int:
    return max(20, math.ceil(POOL_AT_SCALE_1[audience] * scale))


def draw_person(rng: Random, audience: str, pool: int) -> int:
    """A person of ``audience`` (``pool`` of them), some far more often than others."""
    k = int(pool * rng.random() ** CONCENTRATION[audience])
    residues = _RESIDUES[audience]
    n = len(residues)
    return (k // n) * 100 + residues[k % n]


def phone_number(index: int) -> str:
    """E.164 number of a person (unique per index)."""
    if index < _FICTION_SIZE:
        block, rest = divmod(index, 10_000)
        return f"+33{_FICTION_BLOCKS[block]}{(rest * 7919 + 1234) % 10_000:04d}"
    extra = (index - _FICTION_SIZE) % 9_000_000
    return f"+3319{(extra * 7919 + 12345) % 9_000_000:07d}"


def raw_caller_id(number: str) -> str:
    """What Asterisk shows for a French caller: the national format."""
    return "0" + number[3:]


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if c.isascii() and (c.isalnum() or c in "-")).lower()


def names(index: int) -> tuple[str, str]:
    first = FIRST_NAMES[(index * 37 + 11) % len(FIRST_NAMES)]
    last = LAST_NAMES[(index * 53 + 7) % len(LAST_NAMES)]
    return first, last


def display_name(index: int) -> str:
    first, last = names(index)
    return f"{first} {last}"


def organisation(index: int) -> str:
    audience = audience_of(index)
    if audience == "avocat":
        partner = LAST_NAMES[(index * 29 + 3) % len(LAST_NAMES)]
        _, last = names(index)
        return f"Cabinet {last}" if index % 3 else f"{last} & {partner} Avocats"
    if audience == "administration":
        kind = ADMIN_KINDS[(index * 17) % len(ADMIN_KINDS)]
        return kind.format(PLACES[(index * 31 + 5) % len(PLACES)])
    return ""


def email(index: int) -> str:
    first, last = names(index)
    domain = {"avocat": "avocats.example", "administration": "administration.example",
              "citoyen": "courriel.example"}[audience_of(index)]
    return f"{_ascii(first)}.{_ascii(last)}.{index}@{domain}"
