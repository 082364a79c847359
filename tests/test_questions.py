"""examples/batchnorm_questions.py answers each question in one readable, numbered sentence."""

import importlib.util
import pathlib
import re

EXAMPLE = pathlib.Path(__file__).resolve().parent.parent / "examples" / "batchnorm_questions.py"


def test_each_answer_is_one_numbered_sentence(capsys):
    spec = importlib.util.spec_from_file_location("batchnorm_questions", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main([]) == list(range(1, 15))
    lines = [line for line in capsys.readouterr().out.splitlines() if line]
    answers = [line for line in lines if line.startswith("Answer")]
    assert [int(re.match(r"Answer (\d+): ", line)[1]) for line in answers] == list(range(1, 15))
    questions = [line for line in lines if line.startswith("Question")]
    assert len(questions) == 14 and all(line.rstrip().endswith("?") for line in questions)
    for line in answers:
        sentence = line.split(": ", 1)[1]
        assert sentence.endswith(".") and len(sentence.split()) >= 12, line
    # nothing else but the questions, the answers and the closing line
    assert len(lines) == 29 and lines[-1] == "14 question(s) answered, every check passed."
