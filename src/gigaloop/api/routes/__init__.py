"""One router per resource; each route names the roles it allows
(:func:`gigaloop.api.deps.allow`)."""
