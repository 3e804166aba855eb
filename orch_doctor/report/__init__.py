"""Every command's output for people and CI: the doctor report (text, json, junit, github),
the other commands' text, one status vocabulary, the console and the live step lines."""
