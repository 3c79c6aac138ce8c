"""Entities, mentions, quotes and their speakers from one spaCy pipeline (``analysis`` is the entry point).

Why a package: these modules form one unit, the NLP stage, that reads spaCy's parse and knows nothing of
feeds, pages or storage; kept together, the rest of ``transform`` (cleaning, dates, stories, topics)
stays free of spaCy. Nothing is imported here, so loading one rule table does not load the stage.
"""
