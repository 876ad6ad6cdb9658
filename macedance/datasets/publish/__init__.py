"""Publishing datasets: what ``macedance data export`` writes beside the data, such as face-blurred copies of the videos
and images (:mod:`~macedance.datasets.publish.faces`)."""
