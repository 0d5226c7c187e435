"""What a person reads about a model: the model card, its pictures and the layer table.

May import the recipe, ``data``, ``predict`` and ``gate`` (the card prints the gate's
verdict, it never decides one).
"""
