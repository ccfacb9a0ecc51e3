"""Short movie reviews for the text classifiers' tests: two classes a model can learn from a
dozen examples each, so training runs in seconds and its predictions can be checked."""

REVIEWS = {
    "Positive": [
        "I loved this film, wonderful acting",
        "great story and wonderful music",
        "what a great, happy ending",
        "loved every minute, brilliant",
        "brilliant cast, great fun",
        "happy and wonderful experience",
        "a great joy to watch, loved it",
        "wonderful, brilliant, great",
        "fun, happy, loved the jokes",
        "great film, I loved the music",
        "brilliant and joyful, wonderful",
        "happy tears, a great film",
    ],
    "Negative": [
        "I hated this film, terrible acting",
        "boring story and awful music",
        "what a bad, sad ending",
        "hated every minute, dreadful",
        "awful cast, boring mess",
        "sad and terrible experience",
        "a bad waste of time, hated it",
        "terrible, dreadful, awful",
        "boring, sad, hated the jokes",
        "bad film, I hated the music",
        "dreadful and dull, terrible",
        "sad mess, an awful film",
    ],
}
POSITIVE = REVIEWS["Positive"]
NEGATIVE = REVIEWS["Negative"]
