"""What the plant watches and decides: process control, predictive maintenance, energy and
OEE, a room each (``gigaloop.factory.<room>``). Importing the package imports none of
them, so a reader of one (the KPIs read ``oee``) does not pay for another's libraries."""
