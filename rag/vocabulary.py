"""The domain's word lists, as data: synonym groups and everyday phrasings → the reviews' vocabulary.

Kept here, apart from the code that uses them (rag/lexical.py), so they can be reviewed on their own.
Sources: the NSPCC case review keywords, the triennial analyses' and the national Panel's vocabulary, and
practice; never the evaluation questions. The theme vocabulary (rag/data/themes.toml, rag/themes.py)
is the larger, structured list of the same kind.
"""

from __future__ import annotations

# Terms that vary between agencies or changed over time. Each group is expanded as a whole:
# a query that says one of them also searches for the others.
SYNONYMS: tuple[tuple[str, ...], ...] = (
    ("serious case review", "scr", "child safeguarding practice review", "cspr", "case review"),
    ("lscb", "local safeguarding children board", "safeguarding partnership", "safeguarding children partnership"),
    ("did not attend", "dna", "was not brought", "wnb", "non-attendance", "missed appointments", "not brought"),
    ("disguised compliance", "false compliance", "superficial cooperation", "superficial co-operation"),
    ("nai", "non-accidental injury", "non-accidental injuries"),
    ("nahi", "non-accidental head injury", "abusive head trauma", "shaken baby", "shaking"),
    ("cse", "child sexual exploitation", "sexual exploitation"),
    ("sudi", "sudden unexpected death in infancy", "sudden infant death", "cot death"),
    ("co-sleeping", "safe sleeping", "unsafe sleeping", "sleeping behaviour"),
    ("fii", "fabricated or induced illness", "perplexing presentations"),
    ("camhs", "child and adolescent mental health services"),
    ("sgo", "special guardianship order"),
    ("cin", "child in need"),
    ("cp plan", "child protection plan"),
    ("lac", "cla", "looked after child", "child in care", "children in care"),
    ("marac", "multi-agency risk assessment conference"),
    ("mash", "multi-agency safeguarding hub", "safeguarding hub"),
    ("dv", "domestic violence", "domestic abuse"),
    ("hsb", "harmful sexual behaviour"),
    ("unknown men", "invisible men", "hidden men", "fathers", "male partners"),
    ("think family", "whole family approach"),
    ("voice of the child", "child's voice", "views of the child", "lived experience"),
    ("professional curiosity", "respectful uncertainty", "healthy scepticism"),
)

# Everyday words practitioners and parents use → the reviews' professional vocabulary. One-way:
# a query saying "dad" also searches for "father"; the reviews rarely say "dad".
LAY_TERMS: dict[str, str] = {
    "dad": "father",
    "dads": "fathers",
    "stepdad": "stepfather mother's partner",
    "mum": "mother",
    "mums": "mothers",
    "boyfriend": "mother's partner",
    "kid": "child",
    "kids": "children",
    "teen": "adolescent young person",
    "teens": "adolescents young people",
    "teenager": "adolescent young person",
    "teenagers": "adolescents young people",
    "toddler": "young child",
    "newborn": "infant baby",
    "grandparents": "kinship carers family members",
    "relatives": "kinship carers family members",
    "took their own life": "suicide",
    "take their own life": "suicide",
    "killed himself": "suicide",
    "killed herself": "suicide",
    "hurting themselves": "self-harm",
    "cutting": "self-harm",
    "drugs": "substance misuse drug use",
    "drinking": "alcohol misuse",
    "drunk": "alcohol",
    "bruises": "bruising injuries",
    "marks": "bruising injuries",
    "broken bones": "fractures",
    "shaken": "non-accidental head injury shaking",
    "hit": "physical abuse",
    "beaten": "physical abuse",
    "missed appointments": "was not brought non-attendance",
    "missing appointments": "was not brought non-attendance",
    "missing their appointments": "was not brought non-attendance",
    "check-ups": "health appointments",
    "didn't turn up": "did not attend non-attendance",
    "cooperate": "compliance engagement",
    "too optimistic": "over-optimism",
    "nosy": "professional curiosity",
    "ask questions": "professional curiosity",
    "escalate": "escalation",
    "talk to each other": "information sharing communication",
    "pass on": "information sharing",
    "passing on": "information sharing",
    "moved house": "transfer move local authority",
    "moving area": "transfer between local authorities",
    "foster parents": "foster carers",
    "in care": "looked after child",
    "care leaver": "care leavers",
    "groomed": "grooming exploitation",
    "online": "technology-assisted online",
    "gangs": "criminal exploitation",
    "asylum": "unaccompanied asylum seeking",
    "refugee": "migrant immigrant",
    "interpreter": "interpreters language",
    "english isn't their first language": "interpreters language",
    "religion": "faith culture",
    "learning disability": "learning disabilities",
    "disabled": "disability",
    "fits": "epilepsy seizures",
    "locked up": "custody secure young offender institution",
    "prison": "custody prison",
    "sleeping in the parents' bed": "co-sleeping",
    "sharing a bed": "co-sleeping",
    "on the sofa": "co-sleeping sofa",
    "cot death": "sudden infant death",
    "hiding the pregnancy": "concealed pregnancy",
    "looking after a parent": "young carers",
    "caring for a parent": "young carers",
    "not crawling": "non-mobile",
    "immobile": "non-mobile",
    "depressed": "depression mental health",
    "postnatal": "post-natal depression",
    "isolated": "isolation",
    "no support": "isolation support",
    "overweight": "obesity",
    "made up illness": "fabricated or induced illness",
    "making the child ill": "fabricated or induced illness",
    "sexting": "online sexual abuse",
    "domestic": "domestic abuse",
    "violent partner": "domestic abuse",
    "controlling": "coercive control",
    "workload": "caseloads",
}


# Function words: NLTK's English stop word list (the 179 words bm25s ships as STOPWORDS_EN_PLUS). A question's
# word no review contains is read with the words it is written beside, up to a function word or punctuation
# ("prospective adopters", "legal aid"): rag.ledger `unknown_phrases`.
_NLTK_STOP_WORDS = """
    a about above after again against ain all am an and any are aren aren't as at be because been before being
    below between both but by can couldn couldn't d did didn didn't do does doesn doesn't doing don don't down
    during each few for from further had hadn hadn't has hasn hasn't have haven haven't having he her here
    hers herself him himself his how i if in into is isn isn't it it's its itself just ll m ma me mightn
    mightn't more most mustn mustn't my myself needn needn't no nor not now o of off on once only or other our
    ours ourselves out over own re s same shan shan't she she's should should've shouldn shouldn't so some
    such t than that that'll the their theirs them themselves then there these they this those through to too
    under until up ve very was wasn wasn't we were weren weren't what when where which while who whom why will
    with won won't wouldn wouldn't y you you'd you'll you're you've your yours yourself yourselves
"""
FUNCTION_WORDS: frozenset[str] = frozenset(_NLTK_STOP_WORDS.split())
