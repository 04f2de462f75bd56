from cs260.classifiers.linear_classifier import *
from cs260.classifiers.softmax import *
