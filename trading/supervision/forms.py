from django import forms
from django.utils.translation import gettext_lazy as _

from trading.supervision.models import Subject


class NoticeForm(forms.Form):
    subject = forms.CharField(label=_("事项"), max_length=200)
    body = forms.CharField(label=_("督办要求"), max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))
    respond_by = forms.DateTimeField(label=_("答复期限"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))


class TextForm(forms.Form):
    text = forms.CharField(label=_("内容"), max_length=10000, widget=forms.Textarea(attrs={"rows": 3}))


class ObjectionForm(forms.Form):
    subject = forms.ChoiceField(label=_("异议事项"), choices=Subject.choices)
    body = forms.CharField(label=_("异议内容"), max_length=10000, widget=forms.Textarea(attrs={"rows": 4}))


class ComplaintForm(forms.Form):
    subject = forms.ChoiceField(label=_("投诉事项"), choices=Subject.choices)
    body = forms.CharField(label=_("投诉内容"), max_length=10000, widget=forms.Textarea(attrs={"rows": 4}))
    known_on = forms.DateField(label=_("知道或应当知道之日"), widget=forms.DateInput(attrs={"type": "date"}))
    objection = forms.IntegerField(label=_("所提异议编号"), required=False)
    evidence = forms.FileField(label=_("证据材料"), required=False)


class AcceptForm(forms.Form):
    suspend = forms.BooleanField(label=_("投诉处理期间暂停招标投标活动"), required=False)
    reason = forms.CharField(label=_("暂停理由"), max_length=2000, required=False)
