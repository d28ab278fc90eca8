"""What callers hear, in French, in one place (reviewable and translatable), and how the
prompt files are made.

The prompts are spoken by espeak-ng (Debian package) and converted by sox to 8 kHz mono
WAV, the format Asterisk plays without transcoding on G.711 calls. They are built once
into ``<data_dir>/sounds/fr`` and played by absolute path (``sound:/…/bienvenue``); numbers
(positions, minutes) come from the French prompts of Debian's ``asterisk-prompt-fr-armelle``
through ``number:`` with the channel's language set to ``fr``.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

PROMPTS: dict[str, str] = {
    "bienvenue": "Bienvenue à l'assistance des téléprocédures des juridictions administratives.",
    "menu": ("Vous êtes avocat, tapez 1. Vous représentez une administration, tapez 2. "
             "Vous êtes un particulier ou une entreprise, tapez 3."),
    "ferme": ("Notre service est ouvert du lundi au vendredi, de 8 heures 30 à 17 heures 30, "
              "sauf les jours fériés. Vous pouvez nous écrire à tout moment depuis le portail "
              "d'assistance. Au revoir."),
    "attente": "Tous nos conseillers sont en ligne. Merci de patienter, votre appel va être traité.",
    "position": "Vous êtes en position",
    "attente_estimee": "Temps d'attente estimé :",
    "minutes": "minutes",
    "moins_une_minute": "Temps d'attente estimé : moins d'une minute.",
    "aucun_conseiller": ("Aucun conseiller n'est disponible pour le moment. Nous vous rappellerons "
                         "dès que possible pendant nos heures d'ouverture. Au revoir."),
    "incident": ("Un incident technique empêche de traiter votre appel. Merci de rappeler dans "
                 "quelques instants. Au revoir."),
    "operateur_connecte": "Vous êtes connecté.",
    "operateur_deconnecte": "Vous êtes déconnecté.",
    "operateur_pause": "Vous êtes en pause.",
    "operateur_disponible": "Vous êtes disponible.",
    "operateur_inconnu": "Ce poste n'est pas celui d'un conseiller.",
    "rappel_offre": ("Pour être rappelé sans perdre votre place, tapez 1. "
                     "Pour continuer à patienter, ne tapez rien."),
    "rappel_confirme": ("C'est noté : un conseiller vous rappellera à ce numéro quand votre tour "
                        "viendra. Au revoir."),
}

VOICE = "fr"
RATE_WPM = "150"


def _digest() -> str:
    text = "\n".join(f"{k}={v}" for k, v in sorted(PROMPTS.items())) + VOICE + RATE_WPM
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def build(target: Path, *, force: bool = False) -> Path:
    """Make every prompt under ``target`` (cached by the texts' digest); return the dir."""
    target.mkdir(parents=True, exist_ok=True)
    stamp = target / ".digest"
    if not force and stamp.exists() and stamp.read_text() == _digest() and all(
        (target / f"{name}.wav").exists() for name in PROMPTS
    ):
        return target
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is missing: apt-get install espeak-ng sox")
    for i, (name, text) in enumerate(sorted(PROMPTS.items()), 1):
        raw = target / f"{name}.raw.wav"
        subprocess.run(["espeak-ng", "-v", VOICE, "-s", RATE_WPM, "-w", str(raw), text],
                       check=True, capture_output=True)
        subprocess.run(["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer",
                        str(target / f"{name}.wav")], check=True, capture_output=True)
        raw.unlink()
        print(f"[prompts] {i}/{len(PROMPTS)} {name}", file=sys.stderr)
    stamp.write_text(_digest())
    return target


def media(sounds_dir: Path, name: str) -> str:
    """ARI media URI of a prompt (absolute path, no extension)."""
    if name not in PROMPTS:
        raise KeyError(f"no prompt {name!r}")
    return f"sound:{sounds_dir / name}"


if __name__ == "__main__":
    out = build(Path(sys.argv[1] if len(sys.argv) > 1 else "var/sounds/fr"), force="--force" in sys.argv)
    print(out)
