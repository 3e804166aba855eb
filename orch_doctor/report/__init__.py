"""Renderings of a doctor report: text (rich), json, junit, github."""
