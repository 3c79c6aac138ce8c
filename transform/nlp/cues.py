"""Speech cues: the verbs that attribute a quote to its speaker, in every inflected form.

Why: the lemmatizer is disabled for speed (transform.nlp.analysis), so cues are matched by surface form. Forms
are generated from base verbs by the regular English rules, with the irregular ones listed, so a cue is
never missed because only "said" was written down and not "saying".
"""

from __future__ import annotations

# Verbs of saying, writing and reacting that news style uses to attribute a direct quote. Deliberately
# excluded: verbs that more often introduce a paraphrase or an object than a quote ("offer", "show",
# "think", "believe", "know").
CUE_BASES = """say tell add write explain note state declare announce insist argue claim recall warn ask answer remember
reply respond tweet post quip joke exclaim acknowledge admit concede suggest predict promise vow boast
complain observe remark shout yell scream chant whisper mutter testify assert contend emphasize emphasise
stress reiterate mention confirm deny continue recount call describe urge pledge counter retort caution
lament conclude muse agree put quote read blast slam charge demand proclaim wonder thunder snap sigh laugh
interject chime cry plead beg sing exhort bark question accuse comment echo mock report reveal inform email text tell
acknowledge begin cite brag gush rail scoff sneer tout hail praise criticize criticise condemn
dismiss denounce concur elaborate explain instruct advise recommend remind assure reassure speak thank fume
characterize characterise react""".split()
_IRREGULAR = {
    "say": ("said",), "speak": ("spoke", "spoken"), "tell": ("told",), "write": ("wrote", "written"), "read": ("read",), "put": ("put",),
    "quip": ("quipped", "quipping"), "admit": ("admitted", "admitting"), "snap": ("snapped", "snapping"),
    "plead": ("pled",), "sing": ("sang", "sung"), "begin": ("began", "begun", "beginning"),
    "brag": ("bragged", "bragging"), "cry": ("cried",), "deny": ("denied", "denies"),
    "reply": ("replied", "replies"), "testify": ("testified", "testifies"), "slam": ("slammed", "slamming"),
}


def inflections(base: str) -> set[str]:
    """The base, -s, -ed and -ing forms of a regular verb, plus its listed irregular forms."""
    forms = {base}
    if base.endswith(("s", "sh", "ch", "x", "z", "o")):
        forms.add(base + "es")
    elif base.endswith("y") and base[-2:-1] not in "aeiou":
        forms.add(base[:-1] + "ies")
    else:
        forms.add(base + "s")
    if base.endswith("e"):
        forms.update({base + "d", base[:-1] + "ing"})
    elif base.endswith("y") and base[-2:-1] not in "aeiou":
        forms.update({base[:-1] + "ied", base + "ing"})
    else:
        forms.update({base + "ed", base + "ing"})
    forms.update(_IRREGULAR.get(base, ()))
    return forms


CUE_FORMS = frozenset(form for base in CUE_BASES for form in inflections(base))
