"""CIFAR-10, trained once and cached: the runs declared once
(:mod:`.runs`), the splits (:mod:`.data`), the training script
(:mod:`.pipeline`, ``python -m cnn_tutorial.cifar``), the cache the book
reads (:mod:`.cache`) and the numbers the pages print (:mod:`.report`)."""
