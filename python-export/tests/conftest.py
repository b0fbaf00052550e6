import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
FIXTURE_DIR = HERE.parent.parent / "test" / "fixtures" / "models"


@pytest.fixture(scope="session")
def fixture_ds():
    from segments.data import load_interface
    return load_interface(FIXTURE_DIR)
